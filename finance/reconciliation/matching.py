"""The matching engine: a run's statement against the ledger.

Both steps run inside the caller's transaction (`services.reconciliation_execute`), so a run
that fails keeps nothing:

`load_lines` first reads the postings in reach (the run's PSP's clearing accounts, within the
period widened by the run's date window) into memory by reference, then streams the file
through `readers.read_statement` and COPYs its rows into `finance_statementline`, each line
written once, already paired:

1. by reference (the PSP's id our posting carries), the n-th line to the n-th posting per
   reference and direction (lines in file order, postings by id), as the lines pass; a pair
   whose amount or currency differs is noted as a difference to explain. Text is cut to the
   columns' lengths, NUL bytes dropped; progress is reported every `COPY_BATCH` rows; a file
   without rows is a `StatementError` (empty_statement).

`match_run` goes on in a few SQL statements over a temporary table of the postings left:

1b. by description, for files without the PSP's payment ids: a line whose description no
   other line has, to the one posting left whose ledger transaction has it ("Deposit D-1042",
   which the PSP keeps with the payment);
2. what is left, by amount, currency and a date window (`date_window_days`): pairs that are each
   other's nearest candidate, round after round;
3. lines left over are missing in the ledger (or duplicates of a matched line); postings of the
   period left over are missing at the PSP.

Matching in the load rather than in an UPDATE afterwards is what lets a million lines finish
within a minute: Postgres writes each line once while Python reads the next ones, where
rewriting a million freshly loaded rows took longer than reading them. Memory grows with the
postings in reach (about 180 MB for a million).

Lines in `SKIP_CATEGORIES` (the PSP paying us out, its fees) are loaded but never matched:
the fees are booked by day instead (`fees`), and the fee postings are never in reach.
Statement amounts are + for money into the merchant account; a deposit's clearing posting is
negative (credit-positive ledger), so a line matches a posting of the opposite sign.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.core.cache import cache
from django.db import connection

from ..models import LedgerAccount, ReconciliationItem, ReconciliationRun
from .base import StatementError
from .fees import FEE_REFERENCE_PREFIX, fees_book
from .generic_csv import ColumnMapping
from .readers import read_statement
from .selectors import progress_key

# Statement categories that are not client money movements (the PSP paying us out, its fees).
SKIP_CATEGORIES = (
    "payout",
    "payout_reversal",
    "fee",
    "network_cost",
    "tax",
    "topup",
    "platform_earning",
    "transfer_reversal",
)
COPY_BATCH = 50_000


def set_progress(run_id: int, **data) -> None:
    cache.set(progress_key(run_id), data, 6 * 3600)


class _Postings:
    """The postings in reach (this PSP's clearing accounts, the period widened by the run's
    date window), by reference and direction, for pairing the lines as they stream: the n-th
    line of a reference and direction takes the n-th posting of it (by id). Amounts are kept
    in cents, signed from the statement's side (a deposit's clearing posting is negative)."""

    def __init__(self, run: ReconciliationRun, cur):
        self.ids = array("q")
        self.cents: list[int] = []
        self.currencies: list[str] = []
        self.by_ref: tuple[dict, dict] = ({}, {})  # money in, money out: reference -> index
        self.taken: list[int] = []
        raw = cur.cursor
        with raw.copy(
            """COPY (SELECT p.id, p.external_reference, trunc(-p.amount * 100), p.currency
                      FROM finance_posting p
                     WHERE p.account_id IN (SELECT id FROM finance_ledgeraccount
                                             WHERE kind = %s AND psp = %s)
                       AND p.posted_at >= (%s::date - %s) AND p.posted_at < (%s::date + 1 + %s)
                       AND p.external_reference NOT LIKE %s)
               TO STDOUT""",
            (
                LedgerAccount.Kind.PSP_CLEARING,
                run.psp,
                run.period_start,
                run.date_window_days,
                run.period_end,
                run.date_window_days,
                FEE_REFERENCE_PREFIX + "%",
            ),
        ) as copy:
            copy.set_types(["int8", "text", "int8", "text"])
            ids, cents, currencies = self.ids, self.cents, self.currencies
            seen: dict[str, str] = {}
            many = set()
            for pid, ref, amount, currency in copy.rows():
                i = len(ids)
                ids.append(pid)
                cents.append(amount)
                currencies.append(seen.setdefault(currency, currency))
                if ref:
                    by_ref = self.by_ref[amount < 0]
                    first = by_ref.setdefault(ref, i)
                    if first != i:  # a second posting with this reference and direction
                        if type(first) is int:
                            by_ref[ref] = [first, i]
                        else:
                            first.append(i)
                        many.add((amount < 0, ref))
        for side, ref in many:  # the n-th line takes the n-th posting by id
            self.by_ref[side][ref].sort(key=ids.__getitem__)

    def take(self, reference: str, negative: bool) -> int | None:
        """The index of the first posting left for this reference and direction, taken."""
        by_ref = self.by_ref[negative]
        i = by_ref.get(reference)
        if i is None or type(i) is int:
            if i is not None:
                del by_ref[reference]
                self.taken.append(i)
            return i
        first = i.pop(0)
        if not i:
            del by_ref[reference]
        self.taken.append(first)
        return first

    def left(self) -> list[int]:
        """The ids of the postings no line took (with or without a reference)."""
        taken = bytearray(len(self.ids))
        for i in self.taken:
            taken[i] = 1
        return [pid for pid, t in zip(self.ids, taken, strict=True) if not t]


def _cents(amount: Decimal) -> int:
    """The amount in cents as the statement line's column keeps it (two places, halves away
    from zero, as Postgres rounds a numeric)."""
    return int(amount.scaleb(2).to_integral_value(ROUND_HALF_UP))


@dataclass
class Loaded:
    """What loading found: the lines' count and what matching goes on with."""

    lines: int = 0
    matched_reference: int = 0
    skipped: int = 0
    noted: int = 0
    postings_left: list[int] = field(default_factory=list)
    mismatched: list[tuple[str, int]] = field(default_factory=list)  # (reference, posting id)


def load_lines(run: ReconciliationRun) -> Loaded:
    """Stream the statement into finance_statementline, each line written once: lines with a
    reference are paired with the postings in reach as they pass (see `_Postings`)."""
    mapping = ColumnMapping.from_dict(run.mapping) if run.mapping else None
    size = max(run.file.size, 1)
    loaded = Loaded()
    skip = frozenset(SKIP_CATEGORIES)
    with connection.cursor() as cur:
        postings = _Postings(run, cur)
        ids, cents, currencies, take = (
            postings.ids,
            postings.cents,
            postings.currencies,
            postings.take,
        )
        n = matched = skipped = noted = 0
        mismatched = loaded.mismatched
        with run.file.open("rb") as fh:
            raw = cur.cursor  # psycopg's own cursor, for COPY
            columns = (
                "run_id, line_no, reference, amount, currency, booked_on, description, category,"
                " payment_reference, match, note, posting_id, fee"
            )
            with raw.copy(f"COPY finance_statementline ({columns}) FROM STDIN") as copy:
                write = copy.write_row
                for row in read_statement(fh, run.format, mapping=mapping):
                    reference = row.reference[:100].replace("\x00", "")
                    category = (row.category or "")[:30].replace("\x00", "")
                    posting_id, match = None, ""
                    if category in skip:
                        skipped += 1
                    elif reference and row.amount:
                        i = take(reference, row.amount < 0)
                        if i is not None:
                            posting_id, match = ids[i], "reference"
                            matched += 1
                            if currencies[i] != row.currency or cents[i] != _cents(row.amount):
                                mismatched.append((reference, posting_id))
                    if row.note:
                        noted += 1
                    write(
                        (
                            run.pk,
                            row.line_no,
                            reference,
                            row.amount,
                            row.currency,
                            row.booked_on,
                            (row.description or "")[:255].replace("\x00", ""),
                            category,
                            (row.payment_reference or "")[:100].replace("\x00", ""),
                            match,
                            row.note[:255],
                            posting_id,
                            row.fee,
                        )
                    )
                    n += 1
                    if n % COPY_BATCH == 0:
                        pos = fh.tell() if hasattr(fh, "tell") else 0
                        set_progress(run.pk, stage="reading", rows=n, percent=int(55 * pos / size))
    if n == 0:
        raise StatementError("The statement has no rows.", code="empty_statement")
    loaded.lines, loaded.matched_reference = n, matched
    loaded.skipped, loaded.noted = skipped, noted
    loaded.postings_left = postings.left()
    return loaded


# 1b. What is left, by description: a line whose description is, on its side, that of no other
# line is matched to the one posting left whose ledger transaction has that description
# ("Deposit D-1042", which the PSP keeps on the payment). For statements without the PSP's
# payment ids (Stripe's balance report in its default columns has only its own txn_ ids).
DESCRIPTION_SQL = """
WITH l AS (
    SELECT id, description, sign(amount) AS s
      FROM (SELECT id, description, amount,
                   count(*) OVER (PARTITION BY description, sign(amount)) AS n
              FROM finance_statementline
             WHERE run_id = %(run)s AND posting_id IS NULL AND description <> ''
               AND category <> ALL(%(skip)s)) x
     WHERE n = 1
), p AS (
    SELECT id, description, s
      FROM (SELECT rp.id, t.description, sign(rp.amount) AS s,
                   count(*) OVER (PARTITION BY t.description, sign(rp.amount)) AS n
              FROM recon_postings rp
              JOIN finance_posting fp ON fp.id = rp.id
              JOIN finance_ledgertransaction t ON t.id = fp.transaction_id
             WHERE rp.line_id IS NULL AND t.description <> '') x
     WHERE n = 1
), pairs AS (
    SELECT l.id AS line_id, p.id AS posting_id
      FROM l JOIN p ON p.description = l.description AND p.s = l.s
), upd AS (
    UPDATE finance_statementline sl SET posting_id = pairs.posting_id, match = 'description'
      FROM pairs WHERE sl.id = pairs.line_id RETURNING sl.id, sl.posting_id
)
UPDATE recon_postings rp SET line_id = upd.id FROM upd WHERE rp.id = upd.posting_id
"""

# 2. What is left, by currency and amount within the date window: pairs that are each other's
# nearest candidate are matched, round after round, until no pair is left to agree on.
AMOUNT_DATE_SQL = """
WITH l AS (
    SELECT id, amount, currency, booked_on, line_no
      FROM finance_statementline sl
     WHERE run_id = %(run)s AND posting_id IS NULL AND category <> ALL(%(skip)s)
       -- a second line for a reference already matched is a duplicate, not a candidate
       AND NOT (reference <> '' AND EXISTS (
               SELECT 1 FROM finance_statementline m
                WHERE m.run_id = sl.run_id AND m.reference = sl.reference
                  AND sign(m.amount) = sign(sl.amount) AND m.posting_id IS NOT NULL))
), c AS (
    SELECT l.id AS line_id, p.id AS posting_id, abs(p.booked_on - l.booked_on) AS gap,
           l.line_no
      FROM l JOIN recon_postings p
        ON p.line_id IS NULL AND p.currency = l.currency AND p.amount = l.amount
       AND abs(p.booked_on - l.booked_on) <= %(window)s
), for_line AS (
    SELECT DISTINCT ON (line_id) line_id, posting_id FROM c ORDER BY line_id, gap, posting_id
), for_posting AS (
    SELECT DISTINCT ON (posting_id) posting_id, line_id FROM c
     ORDER BY posting_id, gap, line_no
), pairs AS (
    SELECT for_line.line_id, for_line.posting_id
      FROM for_line JOIN for_posting USING (line_id, posting_id)
), upd AS (
    UPDATE finance_statementline sl SET posting_id = pairs.posting_id, match = 'amount_date'
      FROM pairs WHERE sl.id = pairs.line_id RETURNING sl.id, sl.posting_id
)
UPDATE recon_postings rp SET line_id = upd.id FROM upd WHERE rp.id = upd.posting_id
"""

# The postings no line took by reference, for what follows.
POSTINGS_LEFT_SQL = """
CREATE TEMP TABLE recon_postings ON COMMIT DROP AS
SELECT p.id, p.external_reference AS reference, -p.amount AS amount, p.currency,
       (p.posted_at AT TIME ZONE 'UTC')::date AS booked_on, NULL::bigint AS line_id,
       ((p.posted_at AT TIME ZONE 'UTC')::date BETWEEN %(start)s AND %(end)s) AS in_period
  FROM finance_posting p JOIN unnest(%(left)s::bigint[]) AS l(id) ON l.id = p.id
"""

# 3. Differences: a pair whose amount or currency differs (by reference: the pairs loading
# found to differ; by description: all of them), lines left over, postings left over.
MISMATCH_SQL = """
INSERT INTO finance_reconciliationitem
    (run_id, kind, line_id, posting_id, reference, statement_amount, ledger_amount, currency,
     resolution)
SELECT %(run)s,
       CASE WHEN sl.currency <> p.currency THEN 'currency_mismatch' ELSE 'amount_mismatch' END,
       sl.id, p.id, sl.reference, sl.amount, -p.amount, sl.currency, ''
  FROM finance_statementline sl JOIN finance_posting p ON p.id = sl.posting_id
 WHERE sl.run_id = %(run)s AND ({which}) AND (sl.amount <> -p.amount OR sl.currency <> p.currency)
"""
BY_REFERENCE = "sl.reference = ANY(%(refs)s) AND sl.posting_id = ANY(%(ids)s)"
BY_DESCRIPTION = "sl.match = 'description'"

LEFT_OVER_SQL = [
    """
    INSERT INTO finance_reconciliationitem
        (run_id, kind, line_id, reference, statement_amount, currency, resolution)
    SELECT %(run)s,
           CASE WHEN EXISTS (SELECT 1 FROM finance_statementline m
                              WHERE m.run_id = sl.run_id AND m.reference = sl.reference
                                AND sl.reference <> '' AND sign(m.amount) = sign(sl.amount)
                                AND m.posting_id IS NOT NULL)
                THEN 'duplicate' ELSE 'missing_in_ledger' END,
           sl.id, sl.reference, sl.amount, sl.currency, ''
      FROM finance_statementline sl
     WHERE sl.run_id = %(run)s AND sl.posting_id IS NULL AND sl.category <> ALL(%(skip)s)
    """,
    """
    INSERT INTO finance_reconciliationitem
        (run_id, kind, posting_id, reference, ledger_amount, currency, resolution)
    SELECT %(run)s, 'missing_at_psp', rp.id, rp.reference, rp.amount, rp.currency, ''
      FROM recon_postings rp WHERE rp.line_id IS NULL AND rp.in_period
    """,
]


def match_run(run: ReconciliationRun, loaded: Loaded) -> dict:
    """Match what loading left (by description, then by amount and date) and write the
    differences; the counts for the run's summary."""
    params = {
        "run": run.pk,
        "start": run.period_start,
        "end": run.period_end,
        "window": run.date_window_days,
        "skip": list(SKIP_CATEGORIES),
        "left": loaded.postings_left,
    }
    by_description = by_amount_date = 0
    with connection.cursor() as cur:
        cur.execute(POSTINGS_LEFT_SQL, params)
        if loaded.postings_left:  # else nothing is left to match lines with
            cur.execute("ANALYZE recon_postings")
            cur.execute(DESCRIPTION_SQL, params)
            by_description = max(cur.rowcount, 0)
            for _round in range(20):
                cur.execute(AMOUNT_DATE_SQL, params)
                if cur.rowcount <= 0:
                    break
                by_amount_date += cur.rowcount
        if loaded.mismatched:
            refs, ids = zip(*loaded.mismatched, strict=True)
            cur.execute(
                MISMATCH_SQL.format(which=BY_REFERENCE),
                {**params, "refs": list(refs), "ids": list(ids)},
            )
        if by_description:
            cur.execute(MISMATCH_SQL.format(which=BY_DESCRIPTION), params)
        for sql in LEFT_OVER_SQL:
            cur.execute(sql, params)
        cur.execute("DROP TABLE recon_postings")  # a second run in this transaction makes it anew
    fees = fees_book(run)
    with connection.cursor() as cur:
        cur.execute(
            "SELECT kind, count(*) FROM finance_reconciliationitem WHERE run_id = %s GROUP BY kind",
            [run.pk],
        )
        items = dict(cur.fetchall())
    return {
        "matched_reference": loaded.matched_reference,
        "matched_amount_date": by_amount_date,
        "matched_description": by_description,
        "skipped": loaded.skipped,
        **{kind: items.get(kind, 0) for kind in ReconciliationItem.Kind.values},
        "differences": sum(items.values()),
        "noted": loaded.noted,  # lines read with an assumption (a date that is not one, ...)
        "fees": fees,  # by day: booked now, already booked, or differing from the booking
    }
