"""The matching engine: a run's statement against the ledger, set-based in Postgres.

Both steps run inside the caller's transaction (`services.reconciliation_execute`), so a run
that fails keeps nothing:

`load_lines` streams the file through `readers.read_statement` and COPYs its rows into
`finance_statementline` (text cut to the columns' lengths, NUL bytes dropped), reporting its
progress every `COPY_BATCH` rows; a file without rows is a `StatementError` (empty_statement).

`match_run` matches the lines against the postings on the run's PSP's clearing accounts, in a
few SQL statements over a temporary table of the postings in reach (the period widened by the
run's date window):

1. by reference (the PSP's id our posting carries), the n-th line to the n-th posting per
   reference and direction; a matched pair whose amount or currency differs is a difference to
   explain; then by description, for files without the PSP's payment ids: a line whose
   description no other line has, to the one posting left whose ledger transaction has it
   ("Deposit D-1042", which the PSP keeps with the payment);
2. what is left, by amount, currency and a date window (`date_window_days`): pairs that are each
   other's nearest candidate, round after round;
3. lines left over are missing in the ledger (or duplicates of a matched line); postings of the
   period left over are missing at the PSP.

Lines in `SKIP_CATEGORIES` (the PSP paying us out, its fees) are loaded but never matched.
Statement amounts are + for money into the merchant account; a deposit's clearing posting is
negative (credit-positive ledger), so a line matches a posting of the opposite sign.
"""

from __future__ import annotations

from django.core.cache import cache
from django.db import connection

from ..models import LedgerAccount, ReconciliationItem, ReconciliationRun
from .base import StatementError
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


def load_lines(run: ReconciliationRun) -> int:
    """COPY the statement's rows into finance_statementline, streaming."""
    mapping = ColumnMapping.from_dict(run.mapping) if run.mapping else None
    size = max(run.file.size, 1)
    n = 0
    with run.file.open("rb") as fh, connection.cursor() as cur:
        raw = cur.cursor  # psycopg's own cursor, for COPY
        columns = (
            "run_id, line_no, reference, amount, currency, booked_on, description, category,"
            " payment_reference, match, note"
        )
        with raw.copy(f"COPY finance_statementline ({columns}) FROM STDIN") as copy:
            for row in read_statement(fh, run.format, mapping=mapping):
                copy.write_row(
                    (
                        run.pk,
                        row.line_no,
                        row.reference[:100].replace("\x00", ""),
                        row.amount,
                        row.currency,
                        row.booked_on,
                        (row.description or "")[:255].replace("\x00", ""),
                        (row.category or "")[:30].replace("\x00", ""),
                        (row.payment_reference or "")[:100].replace("\x00", ""),
                        "",
                        row.note[:255],
                    )
                )
                n += 1
                if n % COPY_BATCH == 0:
                    pos = fh.tell() if hasattr(fh, "tell") else 0
                    set_progress(run.pk, stage="reading", rows=n, percent=int(55 * pos / size))
    if n == 0:
        raise StatementError("The statement has no rows.", code="empty_statement")
    return n


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

MATCH_SQL = [
    # The postings in reach: this PSP's clearing accounts, within the period and its window.
    """
    CREATE TEMP TABLE recon_postings ON COMMIT DROP AS
    SELECT p.id, p.external_reference AS reference, -p.amount AS amount, p.currency,
           (p.posted_at AT TIME ZONE 'UTC')::date AS booked_on, NULL::bigint AS line_id,
           ((p.posted_at AT TIME ZONE 'UTC')::date BETWEEN %(start)s AND %(end)s) AS in_period
      FROM finance_posting p
     WHERE p.account_id IN (SELECT id FROM finance_ledgeraccount
                             WHERE kind = %(clearing)s AND psp = %(psp)s)
       AND p.posted_at >= (%(start)s::date - %(window)s)
       AND p.posted_at < (%(end)s::date + 1 + %(window)s)
    """,
    "CREATE INDEX ON recon_postings (reference)",
    "ANALYZE recon_postings",
    # 1. By reference, pairing the n-th line and the n-th posting per reference and direction.
    """
    WITH l AS (
        SELECT id, reference, sign(amount) AS s,
               row_number() OVER (PARTITION BY reference, sign(amount) ORDER BY line_no) AS rn
          FROM finance_statementline
         WHERE run_id = %(run)s AND reference <> '' AND category <> ALL(%(skip)s)
    ), p AS (
        SELECT id, reference, sign(amount) AS s,
               row_number() OVER (PARTITION BY reference, sign(amount) ORDER BY id) AS rn
          FROM recon_postings WHERE reference <> ''
    ), pairs AS (
        SELECT l.id AS line_id, p.id AS posting_id
          FROM l JOIN p ON p.reference = l.reference AND p.s = l.s AND p.rn = l.rn
    ), upd AS (
        UPDATE finance_statementline sl SET posting_id = pairs.posting_id, match = 'reference'
          FROM pairs WHERE sl.id = pairs.line_id RETURNING sl.id, sl.posting_id
    )
    UPDATE recon_postings rp SET line_id = upd.id FROM upd WHERE rp.id = upd.posting_id
    """,
    # 3. Differences.
    """
    INSERT INTO finance_reconciliationitem
        (run_id, kind, line_id, posting_id, reference, statement_amount, ledger_amount, currency,
         resolution)
    SELECT %(run)s,
           CASE WHEN sl.currency <> rp.currency THEN 'currency_mismatch'
                ELSE 'amount_mismatch' END,
           sl.id, rp.id, sl.reference, sl.amount, rp.amount, sl.currency, ''
      FROM finance_statementline sl JOIN recon_postings rp ON rp.id = sl.posting_id
     WHERE sl.run_id = %(run)s AND (sl.amount <> rp.amount OR sl.currency <> rp.currency)
    """,
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


def match_run(run: ReconciliationRun) -> dict:
    """Match the run's staged lines against the ledger; the counts for the run's summary."""
    params = {
        "run": run.pk,
        "psp": run.psp,
        "clearing": LedgerAccount.Kind.PSP_CLEARING,
        "start": run.period_start,
        "end": run.period_end,
        "window": run.date_window_days,
        "skip": list(SKIP_CATEGORIES),
    }
    with connection.cursor() as cur:
        for sql in MATCH_SQL[:4]:  # the postings in reach, then by reference
            cur.execute(sql, params if "%(" in sql else None)
        cur.execute(DESCRIPTION_SQL, params)
        for _round in range(20):
            cur.execute(AMOUNT_DATE_SQL, params)
            if cur.rowcount == 0:
                break
        for sql in MATCH_SQL[4:]:  # the differences
            cur.execute(sql, params)
        cur.execute(
            "SELECT match, count(*) FROM finance_statementline WHERE run_id = %s GROUP BY match",
            [run.pk],
        )
        matched = dict(cur.fetchall())
        cur.execute(
            "SELECT kind, count(*) FROM finance_reconciliationitem WHERE run_id = %s GROUP BY kind",
            [run.pk],
        )
        items = dict(cur.fetchall())
        cur.execute(
            "SELECT count(*) FROM finance_statementline WHERE run_id = %s AND category = ANY(%s)",
            [run.pk, list(SKIP_CATEGORIES)],
        )
        skipped = cur.fetchone()[0]
        cur.execute(
            "SELECT count(*) FROM finance_statementline WHERE run_id = %s AND note <> ''",
            [run.pk],
        )
        noted = cur.fetchone()[0]
    return {
        "matched_reference": matched.get("reference", 0),
        "matched_amount_date": matched.get("amount_date", 0),
        "matched_description": matched.get("description", 0),
        "skipped": skipped,
        **{kind: items.get(kind, 0) for kind in ReconciliationItem.Kind.values},
        "differences": sum(items.values()),
        "noted": noted,  # lines read with an assumption (a date that is not one, ...)
    }
