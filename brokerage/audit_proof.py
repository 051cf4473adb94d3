"""Check a client's audit proof from a dossier, with nothing but Python's standard library.

A dossier ZIP carries `audit/proof.json` and this very file as `audit/verify.py`, so whoever
receives it can run `python3 verify.py proof.json` without the brokerage's code or database.
For each event it rebuilds the bytes its seal's hash covers (the canonical form of
`brokerage.models.audit_canonical_payload`: the event's content, its place in the chain and the
previous seal's hash, as sorted, compact JSON), hashes them with SHA-256 and compares; where two
events of the proof sit next to each other in the chain, the later one's `prev_hash` must be the
earlier one's hash; no event may sit past the chain head the proof names. It prints one line
per problem and exits 1 if there is any. Inside the brokerage, `manage.py audit_verify --dossier
FILE` runs the same checks and also compares each seal and the head with the live chain.

The proof's format (`"format": "brokerage-audit-proof/1"`): `head` {seq, hash, at}; `events`, each
{id, seq, prev_hash, hash, hash_version, occurred_at (the exact string hashed), actor_id,
actor_label, action, target_type, target_id, target_repr, subject_client_id, reason,
evidence, ip_address}; `unsealed`, the ids of events written but not yet sealed at export.
"""

from __future__ import annotations

import hashlib
import json
import sys

FORMAT = "brokerage-audit-proof/1"
CONTENT = (
    "occurred_at",
    "actor_id",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "target_repr",
    "reason",
    "evidence",
    "ip_address",
)


def event_hash(event: dict) -> str:
    """The SHA-256 a seal holds for `event` (its `seq` and `prev_hash` included)."""
    data = {key: event[key] for key in CONTENT}
    data["seq"] = event["seq"]
    data["prev_hash"] = event["prev_hash"]
    if event["hash_version"] >= 2:
        data["id"] = event["id"]
        data["subject_client_id"] = event["subject_client_id"]
        data["hash_version"] = event["hash_version"]
    payload = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(payload).hexdigest()


def proof_problems(proof: dict) -> list[str]:
    """Everything in `proof` that does not hold; empty when it verifies."""
    if proof.get("format") != FORMAT:
        return [f"not a {FORMAT} proof: format is {proof.get('format')!r}"]
    problems = []
    head_seq = proof["head"]["seq"]
    by_seq = {}
    for event in proof["events"]:
        if event["hash"] != event_hash(event):
            problems.append(
                f"event {event['id']} (seq {event['seq']}): content does not match its hash"
            )
        if event["seq"] > head_seq:
            problems.append(f"event {event['id']}: seq {event['seq']} is past the head {head_seq}")
        by_seq[event["seq"]] = event
    for seq, event in by_seq.items():
        before = by_seq.get(seq - 1)
        if before is not None and event["prev_hash"] != before["hash"]:
            problems.append(f"event {event['id']} (seq {seq}): not chained to seq {seq - 1}")
    if head_seq in by_seq and by_seq[head_seq]["hash"] != proof["head"]["hash"]:
        problems.append(f"the head's hash is not that of seq {head_seq}")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python3 verify.py proof.json", file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as handle:
        proof = json.load(handle)
    problems = proof_problems(proof)
    for problem in problems:
        print("BROKEN:", problem)
    if not problems:
        sealed = len(proof["events"])
        print(
            f"OK: {sealed} events verify against their seals; chain head seq {proof['head']['seq']}"
            f" {proof['head']['hash']}; {len(proof.get('unsealed', []))} not sealed at export."
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
