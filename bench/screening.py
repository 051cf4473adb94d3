"""Sanctions screening: import, one screening's latency, accuracy on a labelled set, a full book.

In its own database (`<DATABASE_NAME>_bench_screening`, dropped afterwards) it imports the real
OFAC SDN (with aliases) and UN consolidated lists shipped in tests/compliance/data/sanctions,
then measures:

- `import_seconds`: both lists read and stored as snapshots;
- `p50_ms` / `p95_ms`: one name screened at a time (`compliance.screening.screen`), over the
  labelled set's names;
- the labelled set, built by `labelled_set` with a fixed seed: listed persons (primary names of
  two tokens or more, from both lists) written exactly, transliterated (into Cyrillic, read back
  the way the matcher reads every name), reordered, with a typo (one letter changed, dropped,
  doubled or two swapped, in the longest token) and missing a middle name (names of three
  tokens or more), with two neighbouring names run together ("Abdulrahman" for "Abdul Rahman")
  or the longest split in two ("Guo Ying" for "Guoying"), and every listed Korean person (North
  or South Korea, a name of single syllables) written in Hangul, which reads back in the
  Revised Romanization ("KIM Jong Un" as 김정은, read "Gim Jeong Eun"); and names generated
  by Faker in many locales, none a listed name or alias (in any word order, a Korean name's
  romanisations folded: such a name is a listed person's, and its hit a true one).
  `recall` per variation is the share of listed names whose entry is among the hits at the
  default threshold; `false_hits_per_1000` counts the generated names with any hit;
- `batch_recall` / `batch_false_hits_per_1000` / `batch_differs`: the same labelled set
  screened in batches of `--batch` names (the path of a re-screen of the book, misspellings
  looked up as one screening looks them up), and how many names' hits differ from one
  screening at a time, per variation;
- `full_book_seconds`: `--book` generated names (with a tenth listed ones mixed in) screened
  set-based in batches of `--batch` names (`names_per_s`), in this one process;
- `book_job_seconds`: the nightly full re-screen (`compliance.rescreen`) of the `--clients`
  registered clients against both lists, as the compliance queue runs it: its batches
  claimed by `--workers` worker processes at once (each reading the candidate index into its
  memory first, as a worker does once per list snapshot), every client's run and alerts
  written;
- `delta_seconds`: the re-screen a new OFAC snapshot queues (`compliance.rescreen`), with
  `--changed` person entries changed (their programme), run against `--clients` registered
  clients (generated names, a tenth listed ones): every client against the changed entries
  only, through the book's name index, alerts raised on the clients who hit them;
  `book_index_seconds` is the time to index those clients' names, untimed in the delta since
  registration indexes each client as it commits; `index_read_seconds` the time to read the
  new lists' candidate index into memory, which the worker that imports does at once
  (untimed in the delta too).

    .venv/bin/python bench/screening.py                                   # stated scale
    .venv/bin/python bench/screening.py --listed 40 --others 200 --book 500 --clients 500  # smoke

Prints one JSON line.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokerage.settings.dev")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from faker import Faker  # noqa: E402

from bench.benchdb import bench_db_create  # noqa: E402
from compliance.matching import Query  # noqa: E402
from compliance.models import ListEntry  # noqa: E402
from compliance.names import (  # noqa: E402
    in_hangul,
    korean_key,
    name_tokens,
    normalise,
    syllabic,
)
from compliance.screening import screen  # noqa: E402
from compliance.services import snapshot_import  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "tests" / "compliance" / "data" / "sanctions"
OFAC_FILES = ("sdn.csv", "alt.csv", "add.csv", "sdn_comments.csv")
LOCALES = [
    "en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "es_MX", "it_IT", "pt_BR", "nl_NL", "pl_PL",
    "ru_RU", "uk_UA", "tr_TR", "ar_AA", "fa_IR", "hi_IN", "zh_CN", "ja_JP", "ko_KR", "vi_VN",
    "id_ID", "th_TH", "he_IL", "el_GR", "cs_CZ", "ro_RO", "hu_HU", "sv_SE", "fi_FI", "en_IN",
]  # fmt: skip
VARIATIONS = (
    "exact", "transliterated", "reordered", "typo", "missing_middle", "joined", "split",
)  # fmt: skip

# Latin to Cyrillic as a Russian document would write a foreign name (digraphs first).
CYRILLIC = [
    ("sh", "ш"), ("ch", "ч"), ("kh", "х"), ("zh", "ж"), ("ts", "ц"), ("ya", "я"), ("yu", "ю"),
    ("a", "а"), ("b", "б"), ("c", "к"), ("d", "д"), ("e", "е"), ("f", "ф"), ("g", "г"),
    ("h", "х"), ("i", "и"), ("j", "дж"), ("k", "к"), ("l", "л"), ("m", "м"), ("n", "н"),
    ("o", "о"), ("p", "п"), ("q", "к"), ("r", "р"), ("s", "с"), ("t", "т"), ("u", "у"),
    ("v", "в"), ("w", "в"), ("x", "кс"), ("y", "й"), ("z", "з"),
]  # fmt: skip


def to_cyrillic(name: str) -> str:
    out = name.lower()
    for latin, cyrillic in CYRILLIC:
        out = out.replace(latin, cyrillic)
    return out.title()


def with_typo(token: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(token) - 1)
    how = rng.choice(("replace", "drop", "double", "swap"))
    if how == "replace":
        return token[:i] + rng.choice("aeioulnrst".replace(token[i], "")) + token[i + 1 :]
    if how == "drop":
        return token[:i] + token[i + 1 :]
    if how == "double":
        return token[:i] + token[i] + token[i:]
    return token[:i] + token[i + 1] + token[i] + token[i + 2 :]


# Hangul jamo as a listed (McCune-Reischauer or mixed) Korean name spells them, longest first:
# written back in Hangul and read again, the name comes out in the Revised Romanization
# ("KIM Jong Un" -> 김정은 -> "gim jeong eun").
HANGUL_INITIALS = {
    "kk": 1,
    "tt": 4,
    "pp": 8,
    "ss": 10,
    "jj": 13,
    "ch": 14,
    "sh": 9,
    "g": 0,
    "k": 0,
    "n": 2,
    "d": 3,
    "t": 3,
    "r": 5,
    "l": 5,
    "m": 6,
    "b": 7,
    "p": 7,
    "s": 9,
    "j": 12,
    "h": 18,
    "": 11,
}
HANGUL_VOWELS = {
    "yae": 3,
    "yeo": 6,
    "wae": 10,
    "ae": 1,
    "ya": 2,
    "eo": 4,
    "ye": 7,
    "wa": 9,
    "oe": 11,
    "yo": 6,
    "wo": 14,
    "we": 15,
    "wi": 16,
    "yu": 17,
    "eu": 18,
    "ui": 19,
    "a": 0,
    "e": 5,
    "o": 4,
    "u": 18,
    "i": 20,
}
HANGUL_FINALS = {"ng": 21, "k": 1, "g": 1, "n": 4, "t": 7, "l": 8, "m": 16, "p": 17, "": 0}


def to_hangul(name: str) -> str | None:
    """A Korean name of single syllables written in Hangul, or None when a token is not one
    syllable as these romanisations write it."""
    out = []
    for token in normalise(name, "person").split():
        syllable = None
        for initial, i in sorted(HANGUL_INITIALS.items(), key=lambda kv: -len(kv[0])):
            if not token.startswith(initial):
                continue
            rest = token[len(initial) :]
            for vowel, v in sorted(HANGUL_VOWELS.items(), key=lambda kv: -len(kv[0])):
                if rest.startswith(vowel) and rest[len(vowel) :] in HANGUL_FINALS:
                    final = HANGUL_FINALS[rest[len(vowel) :]]
                    syllable = chr(0xAC00 + (i * 21 + v) * 28 + final)
                    break
            if syllable:
                break
        if syllable is None:
            return None
        out.append(syllable)
    return "".join(out)


def vary(name: str, variation: str, rng: random.Random) -> str | None:
    tokens = normalise(name, "person").split()
    if variation == "exact":
        return name
    if variation == "transliterated":
        return to_cyrillic(" ".join(tokens))
    if variation == "reordered":
        return " ".join(reversed(tokens))
    if variation == "typo":
        longest = max(range(len(tokens)), key=lambda i: len(tokens[i]))
        if len(tokens[longest]) < 5:
            return None
        tokens[longest] = with_typo(tokens[longest], rng)
        return " ".join(tokens)
    if variation == "missing_middle":
        if len(tokens) < 3:
            return None
        del tokens[rng.randrange(1, len(tokens) - 1)]
        return " ".join(tokens)
    if variation == "joined":  # two neighbours run together: "Abdul Rahman" -> "Abdulrahman"
        pairs = [i for i in range(len(tokens) - 1) if min(map(len, tokens[i : i + 2])) >= 3]
        if not pairs:
            return None
        i = rng.choice(pairs)
        return " ".join([*tokens[:i], tokens[i] + tokens[i + 1], *tokens[i + 2 :]])
    if variation == "split":  # a long token written apart: "Abdulrahman" -> "Abdul Rahman"
        longest = max(range(len(tokens)), key=lambda i: len(tokens[i]))
        token = tokens[longest]
        if len(token) < 6:
            return None
        cut = rng.randrange(3, len(token) - 2)
        return " ".join([*tokens[:longest], token[:cut], token[cut:], *tokens[longest + 1 :]])
    if variation == "hangul":
        return to_hangul(name)
    raise ValueError(variation)


def name_key(name: str) -> tuple[str, ...]:
    """A name as the matcher reads it, its word order aside (a Korean name's syllables with
    the romanisations' differences folded, so a name in Hangul meets its listed spelling)."""
    tokens = name_tokens(name, "person")
    if in_hangul(name) or syllabic(tokens):
        tokens = [korean_key(t) for t in tokens]
    return tuple(sorted(tokens))


def korean_persons():
    """Listed persons of North or South Korea whose names are single syllables."""
    rows = (
        ListEntry.objects.filter(
            snapshot__is_current=True, kind="person", countries__country__in=["KP", "KR"]
        )
        .order_by("snapshot__source__code", "list_id")
        .values_list("snapshot__source__code", "list_id", "primary_name")
        .distinct()
    )
    return [r for r in rows if syllabic(name_tokens(r[2], "person"))]


def labelled_set(listed: int, others: int, seed: int = 20261204):
    """[(query name, variation, (list, entry id) or None)] with a fixed seed."""
    rng = random.Random(seed)
    persons = list(
        ListEntry.objects.filter(snapshot__is_current=True, kind="person")
        .order_by("snapshot__source__code", "list_id")
        .values_list("snapshot__source__code", "list_id", "primary_name")
    )
    persons = [p for p in persons if len(normalise(p[2], "person").split()) >= 2]
    chosen = rng.sample(persons, min(listed, len(persons)))
    rows = []
    for code, list_id, name in chosen:
        for variation in VARIATIONS:
            varied = vary(name, variation, rng)
            if varied:
                rows.append((varied, variation, (code, list_id)))
    korean = korean_persons()
    for code, list_id, name in rng.sample(korean, min(listed, len(korean))):
        varied = vary(name, "hangul", rng)
        if varied:
            rows.append((varied, "hangul", (code, list_id)))
    # A generated name that is a listed name or alias as it stands, in any order ("Mohammad
    # Khan" for "KHAN, Haji Mohammad" once the honorific is dropped) names a listed person: a
    # hit on it is a true hit, so it is left out of the non-listed names, not counted false.
    listed_names = {
        name_key(n)
        for n in ListEntry.objects.filter(snapshot__is_current=True).values_list(
            "names__name", flat=True
        )
        if n
    }
    fake = Faker(LOCALES)
    fake.seed_instance(seed)
    made = 0
    while made < others:
        name = fake.name()
        if name_key(name) in listed_names:
            continue
        rows.append((name, "not_listed", None))
        made += 1
    return rows


def book(size: int, seed: int) -> list[Query]:
    fake = Faker(LOCALES)
    fake.seed_instance(seed)
    listed = list(
        ListEntry.objects.filter(snapshot__is_current=True, kind="person").values_list(
            "primary_name", flat=True
        )
    )
    rng = random.Random(seed)
    return [
        Query(rng.choice(listed) if i % 10 == 0 else fake.name(), kind="person")
        for i in range(size)
    ]


def clients_create(size: int, seed: int) -> None:
    """`size` clients (users and client records, bulk), named like the full book."""
    from django.contrib.auth import get_user_model

    from clients.models import Client

    names = [q.name for q in book(size, seed + 1)]
    User = get_user_model()
    users = User.objects.bulk_create(
        [
            User(
                email=f"bench{i}@bench.example",
                password="!",
                first_name=" ".join(n.split()[:-1])[:150],
                last_name=n.split()[-1][:150] if n.split() else "",
            )
            for i, n in enumerate(names)
        ],
        batch_size=5000,
    )
    Client.objects.bulk_create([Client(user=u) for u in users], batch_size=5000)


def with_changed_persons(sdn: bytes, changed: int, seed: int) -> bytes:
    """sdn.csv with the programme of `changed` persons (a fixed-seed choice) amended."""
    lines = sdn.decode("latin-1").split("\n")
    persons = [i for i, line in enumerate(lines) if ',"individual","' in line]
    for i in random.Random(seed).sample(persons, min(changed, len(persons))):
        lines[i] = lines[i].replace(',"individual","', ',"individual","BENCH-', 1)
    return "\n".join(lines).encode("latin-1")


def delta_rescreen(clients: int, changed: int, seed: int) -> dict:
    from compliance.book import book_index_refresh
    from compliance.models import ScreeningJob
    from compliance.rescreen import book_rescreen
    from compliance.screening import index_warm

    clients_create(clients, seed)
    # Registration indexes each client's names as it commits; the bulk-created book is
    # indexed at once instead (as the first re-screen after an upgrade would).
    started = time.perf_counter()
    book_index_refresh()
    index_seconds = time.perf_counter() - started
    files = [(n, (DATA / n).read_bytes()) for n in OFAC_FILES]
    files[0] = ("sdn.csv", with_changed_persons(files[0][1], changed, seed))
    snapshot = snapshot_import(fmt="ofac_sdn", files=files, actor="bench")
    # The worker that imports reads the new lists' candidate index at once (and every
    # compliance worker process within INDEX_WARM_SECONDS): timed apart from the delta.
    started = time.perf_counter()
    index_warm()
    warm_seconds = time.perf_counter() - started
    job = ScreeningJob.objects.get(snapshot=snapshot, kind="delta")
    started = time.perf_counter()
    book_rescreen(job_id=job.pk)
    seconds = time.perf_counter() - started
    job.refresh_from_db()
    return {
        "book_index_seconds": round(index_seconds, 2),
        "index_read_seconds": round(warm_seconds, 2),
        "delta_changed_entries": snapshot.changed_count,
        "delta_clients": job.total,
        "delta_clients_with_hits": job.hit_clients,
        "delta_alerts_raised": job.raised_count,
        "delta_seconds": round(seconds, 2),
    }


def _work(job_id: int) -> None:
    """One worker process of the full re-screen (forked: its own database connection)."""
    from django.db import connections

    from compliance.rescreen import book_batches_work

    connections.close_all()
    book_batches_work(job_id=job_id)
    connections.close_all()


def book_job(workers: int) -> dict:
    """The nightly full re-screen of the registered clients, its batches claimed by `workers`
    processes at once."""
    import multiprocessing

    from django.db import connections, transaction

    from compliance.rescreen import book_batches_plan, rescreen_job_start

    with transaction.atomic():
        job = rescreen_job_start(kind="full", actor="bench")
    started = time.perf_counter()
    book_batches_plan(job, helpers=False)  # these processes are the workers
    connections.close_all()
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_work, args=(job.pk,)) for _ in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    seconds = time.perf_counter() - started
    job.refresh_from_db()
    return {
        "book_job_workers": workers,
        "book_job_batches": job.batches.count(),
        "book_job_status": job.status,
        "book_job_clients": job.total,
        "book_job_clients_with_hits": job.hit_clients,
        "book_job_alerts_raised": job.raised_count,
        "book_job_seconds": round(seconds, 2),
        "book_job_clients_per_s": round(job.total / seconds) if seconds else None,
    }


def batch_figures(rows, single: list[set], batch: int) -> dict:
    """The labelled set screened in batches, against what one screening at a time found."""
    found, total, false_hits, differs = {}, {}, 0, {}
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        results = screen([Query(name, kind="person") for name, _v, _e in chunk])
        for (_name, variation, expected), hits, alone in zip(
            chunk, results, single[start : start + batch], strict=True
        ):
            got = {(h.list, h.entry_id) for h in hits}
            if got != alone:
                differs[variation] = differs.get(variation, 0) + 1
            if expected is None:
                false_hits += bool(hits)
                continue
            total[variation] = total.get(variation, 0) + 1
            found[variation] = found.get(variation, 0) + (expected in got)
    others = sum(1 for r in rows if r[2] is None)
    return {
        "batch_recall": {v: round(found[v] / total[v], 4) for v in total},
        "batch_false_hits_per_1000": round(1000 * false_hits / others, 2) if others else None,
        "batch_differs": differs,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listed", type=int, default=1000, help="listed persons varied")
    parser.add_argument("--others", type=int, default=10_000, help="non-listed names")
    parser.add_argument("--book", type=int, default=100_000, help="full-book names")
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=100_000, help="clients re-screened")
    parser.add_argument("--changed", type=int, default=100, help="list entries changed")
    parser.add_argument("--workers", type=int, default=2, help="processes of the full job")
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument(
        "--details", action="store_true", help="print every false hit and missed name to stderr"
    )
    args = parser.parse_args()

    original = bench_db_create("_bench_screening")
    try:
        started = time.perf_counter()
        snapshot_import(
            fmt="ofac_sdn",
            files=[(n, (DATA / n).read_bytes()) for n in OFAC_FILES],
            actor="bench",
        )
        snapshot_import(
            fmt="un",
            files=[("un_consolidated.xml", (DATA / "un_consolidated.xml").read_bytes())],
            actor="bench",
        )
        import_seconds = time.perf_counter() - started

        rows = labelled_set(args.listed, args.others, args.seed)
        latencies, found, total, false_hits = [], {}, {}, 0
        false_examples, single = [], []
        screen([Query(rows[0][0], kind="person")])  # this process reads the index once
        for name, variation, expected in rows:
            t = time.perf_counter()
            hits = screen([Query(name, kind="person")])[0]
            latencies.append((time.perf_counter() - t) * 1000)
            single.append({(h.list, h.entry_id) for h in hits})
            if expected is None:
                if hits:
                    false_hits += 1
                    if args.details:
                        h = hits[0]
                        print(
                            f"false hit: {name} -> {h.matched_name} {h.score:.3f} "
                            f"{json.dumps(h.breakdown)}",
                            file=sys.stderr,
                        )
                    if len(false_examples) < 10:
                        h = hits[0]
                        false_examples.append(f"{name} -> {h.matched_name} {h.score:.2f}")
                continue
            total[variation] = total.get(variation, 0) + 1
            if any((h.list, h.entry_id) == expected for h in hits):
                found[variation] = found.get(variation, 0) + 1
            elif args.details:
                print(f"missed ({variation}): {name} {expected}", file=sys.stderr)
        latencies.sort()
        others = sum(1 for r in rows if r[2] is None)

        queries = book(args.book, args.seed)
        started = time.perf_counter()
        book_hits = 0
        for start in range(0, len(queries), args.batch):
            for hits in screen(queries[start : start + args.batch]):
                book_hits += bool(hits)
        book_seconds = time.perf_counter() - started

        figures = {
            "lists": "ofac_sdn+un",
            "import_seconds": round(import_seconds, 2),
            "screenings": len(latencies),
            "p50_ms": round(statistics.median(latencies), 1),
            "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1], 1),
            "recall": {v: round(found.get(v, 0) / total[v], 4) for v in total},
            "listed_per_variation": total,
            "not_listed": others,
            "false_hits_per_1000": round(1000 * false_hits / others, 2) if others else None,
            "false_hit_examples": false_examples,
            "book_names": len(queries),
            "book_with_hits": book_hits,
            "full_book_seconds": round(book_seconds, 2),
            "names_per_s": round(len(queries) / book_seconds) if book_seconds else None,
        }
        figures.update(batch_figures(rows, single, args.batch))
        figures.update(delta_rescreen(args.clients, args.changed, args.seed))
        figures.update(book_job(args.workers))
        figures["load_avg"] = os.getloadavg()[0]
    finally:
        connection.close()
        connection.creation.destroy_test_db(original, verbosity=0)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
