"""The ledger's invariants, enforced by the database whoever connects.

- Postings and ledger transactions are immutable: UPDATE and DELETE raise (TRUNCATE too, unless
  the session sets `brokerage.allow_audit_truncate = on`, as only the test settings do).
- Every transaction sums to zero per currency and has postings: a deferred constraint trigger,
  checked at commit. A transaction's postings are written in one statement; none can be added
  to it afterwards.
- Balances change only through postings: inserting postings locks their accounts in primary-key
  order and adds them to the balances in the same statement; a direct UPDATE of a balance
  raises. A posting's currency must be its account's.
- A client wallet's available balance (balance less active holds) never goes below zero, except
  through a chargeback booking.
- Held amounts are the sum of the account's active holds, kept by triggers on the holds; a hold
  only moves from active to settled or released, once.
"""

from django.db import migrations

FORWARD = r"""
CREATE OR REPLACE FUNCTION finance_ledger_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER finance_posting_immutable BEFORE UPDATE OR DELETE ON finance_posting
    FOR EACH ROW EXECUTE FUNCTION finance_ledger_immutable();
CREATE TRIGGER finance_ledgertransaction_immutable
    BEFORE UPDATE OR DELETE ON finance_ledgertransaction
    FOR EACH ROW EXECUTE FUNCTION finance_ledger_immutable();

CREATE OR REPLACE FUNCTION finance_ledger_no_truncate() RETURNS trigger AS $$
BEGIN
    IF coalesce(current_setting('brokerage.allow_audit_truncate', true), '') <> 'on' THEN
        RAISE EXCEPTION 'the ledger is append-only: TRUNCATE on % refused', TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER finance_posting_no_truncate BEFORE TRUNCATE ON finance_posting
    FOR EACH STATEMENT EXECUTE FUNCTION finance_ledger_no_truncate();
CREATE TRIGGER finance_ledgertransaction_no_truncate BEFORE TRUNCATE ON finance_ledgertransaction
    FOR EACH STATEMENT EXECUTE FUNCTION finance_ledger_no_truncate();
CREATE TRIGGER finance_ledgeraccount_no_truncate BEFORE TRUNCATE ON finance_ledgeraccount
    FOR EACH STATEMENT EXECUTE FUNCTION finance_ledger_no_truncate();

-- Balances follow postings, in the inserting statement, accounts locked in primary-key order.
-- A statement brings all of a transaction's postings: none may be added to it later.
CREATE OR REPLACE FUNCTION finance_posting_apply() RETURNS trigger AS $$
DECLARE
    r record;
BEGIN
    PERFORM 1 FROM finance_ledgeraccount a
        WHERE a.id IN (SELECT account_id FROM new_postings)
        ORDER BY a.id FOR UPDATE;
    IF EXISTS (SELECT 1 FROM finance_posting p
                WHERE p.transaction_id IN (SELECT transaction_id FROM new_postings)
                  AND p.id < (SELECT min(id) FROM new_postings)) THEN
        RAISE EXCEPTION 'a ledger transaction''s postings are written once, together'
            USING ERRCODE = 'check_violation';
    END IF;
    FOR r IN
        WITH d AS (
            SELECT account_id, min(currency) AS cmin, max(currency) AS cmax,
                   sum(amount) AS delta
              FROM new_postings GROUP BY account_id
        ), u AS (
            UPDATE finance_ledgeraccount a SET balance_amount = a.balance_amount + d.delta
              FROM d WHERE a.id = d.account_id
            RETURNING a.id, a.kind, a.currency, d.cmin, d.cmax, d.delta,
                      a.balance_amount - a.held_amount AS available
        )
        SELECT * FROM u
    LOOP
        IF r.cmin <> r.currency OR r.cmax <> r.currency THEN
            RAISE EXCEPTION 'a posting in % on ledger account % held in %',
                CASE WHEN r.cmin <> r.currency THEN r.cmin ELSE r.cmax END, r.id, r.currency
                USING ERRCODE = 'check_violation';
        END IF;
        IF r.kind = 'client_wallet' AND r.delta < 0 AND r.available < 0 AND EXISTS (
               SELECT 1 FROM new_postings p
                 JOIN finance_ledgertransaction t ON t.id = p.transaction_id
                WHERE p.account_id = r.id AND t.kind <> 'chargeback') THEN
            RAISE EXCEPTION 'insufficient funds: client wallet % would have % available',
                r.id, r.available
                USING ERRCODE = 'check_violation', CONSTRAINT = 'finance_wallet_not_negative';
        END IF;
    END LOOP;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER finance_posting_apply AFTER INSERT ON finance_posting
    REFERENCING NEW TABLE AS new_postings
    FOR EACH STATEMENT EXECUTE FUNCTION finance_posting_apply();

CREATE OR REPLACE FUNCTION finance_account_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'ledger accounts cannot be deleted' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.balance_amount <> 0 OR NEW.held_amount <> 0 THEN
            RAISE EXCEPTION 'a ledger account opens at zero; balances come from postings'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    END IF;
    IF pg_trigger_depth() < 2 AND (NEW.balance_amount IS DISTINCT FROM OLD.balance_amount
                                   OR NEW.held_amount IS DISTINCT FROM OLD.held_amount) THEN
        RAISE EXCEPTION 'ledger balances change only through postings and holds'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.kind <> OLD.kind OR NEW.currency <> OLD.currency OR NEW.psp <> OLD.psp
       OR NEW.client_id IS DISTINCT FROM OLD.client_id THEN
        RAISE EXCEPTION 'a ledger account''s owner and currency cannot change'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER finance_ledgeraccount_guard BEFORE INSERT OR UPDATE OR DELETE
    ON finance_ledgeraccount FOR EACH ROW EXECUTE FUNCTION finance_account_guard();

-- Every transaction has postings and balances per currency: checked at commit, once per
-- transaction (its postings all arrive in one statement, see finance_posting_apply).
CREATE OR REPLACE FUNCTION finance_transaction_balanced() RETURNS trigger AS $$
DECLARE
    r record;
BEGIN
    SELECT coalesce(sum(legs), 0) AS legs,
           min(currency) FILTER (WHERE total <> 0) AS currency,
           min(total) FILTER (WHERE total <> 0) AS total
      INTO r
      FROM (SELECT currency, count(*) AS legs, sum(amount) AS total FROM finance_posting
             WHERE transaction_id = NEW.id GROUP BY currency) per_currency;
    IF r.legs = 0 THEN
        RAISE EXCEPTION 'ledger transaction % has no postings', NEW.id
            USING ERRCODE = 'check_violation';
    END IF;
    IF r.currency IS NOT NULL THEN
        RAISE EXCEPTION 'ledger transaction % does not balance: % % left over',
            NEW.id, r.total, r.currency USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER finance_transaction_balanced
    AFTER INSERT ON finance_ledgertransaction DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION finance_transaction_balanced();

-- Holds: held_amount is the sum of active holds.
CREATE OR REPLACE FUNCTION finance_hold_apply() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'holds cannot be deleted' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'active' THEN
            RAISE EXCEPTION 'a hold starts active' USING ERRCODE = 'check_violation';
        END IF;
        UPDATE finance_ledgeraccount SET held_amount = held_amount + NEW.amount
            WHERE id = NEW.account_id;
        RETURN NEW;
    END IF;
    IF NEW.account_id <> OLD.account_id OR NEW.amount <> OLD.amount
       OR NEW.currency <> OLD.currency OR NEW.reference <> OLD.reference THEN
        RAISE EXCEPTION 'a hold''s account, amount and reference cannot change'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.status <> OLD.status THEN
        IF OLD.status <> 'active' THEN
            RAISE EXCEPTION 'hold % is already %', OLD.reference, OLD.status
                USING ERRCODE = 'check_violation';
        END IF;
        UPDATE finance_ledgeraccount SET held_amount = held_amount - OLD.amount
            WHERE id = OLD.account_id;
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER finance_hold_apply BEFORE INSERT OR UPDATE OR DELETE ON finance_hold
    FOR EACH ROW EXECUTE FUNCTION finance_hold_apply();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS finance_hold_apply ON finance_hold;
DROP TRIGGER IF EXISTS finance_transaction_balanced ON finance_ledgertransaction;
DROP TRIGGER IF EXISTS finance_ledgeraccount_guard ON finance_ledgeraccount;
DROP TRIGGER IF EXISTS finance_posting_apply ON finance_posting;
DROP TRIGGER IF EXISTS finance_ledgeraccount_no_truncate ON finance_ledgeraccount;
DROP TRIGGER IF EXISTS finance_ledgertransaction_no_truncate ON finance_ledgertransaction;
DROP TRIGGER IF EXISTS finance_posting_no_truncate ON finance_posting;
DROP TRIGGER IF EXISTS finance_ledgertransaction_immutable ON finance_ledgertransaction;
DROP TRIGGER IF EXISTS finance_posting_immutable ON finance_posting;
DROP FUNCTION IF EXISTS finance_hold_apply();
DROP FUNCTION IF EXISTS finance_transaction_balanced();
DROP FUNCTION IF EXISTS finance_account_guard();
DROP FUNCTION IF EXISTS finance_posting_apply();
DROP FUNCTION IF EXISTS finance_ledger_no_truncate();
DROP FUNCTION IF EXISTS finance_ledger_immutable();
"""


class Migration(migrations.Migration):
    dependencies = [("finance", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
