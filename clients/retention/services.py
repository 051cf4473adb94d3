"""Retention writes: the daily inactivity run, clearing on trade, outreach, desk thresholds.

Contract:
- `retention_flags_run(now=, actor=)`: the daily run (beat task). Opens one flag per funded
  client past their desk's threshold, refreshes the days and signals of open flags, and clears
  the flags of clients who are active again. Set-based: one statement per signal over the
  candidate set, batched writes, one batched audit insert per action; never a query per
  client. Serialised with clearing on trade by a transaction-level advisory lock.
- `retention_flags_clear_on_trade(client_ids=, actor=, wait=)`: the platform sync calls it
  after ingesting buy/sell deals; with `wait=False` it never blocks on a run in progress and
  queues the clearing for the worker instead.
- `retention_action_log(...)`: an email (sent after commit) or a call on an open flag, in the
  client's communication history, audited.
- `retention_policy_set(...)`: a desk's thresholds (or the default), audited.

Every write is atomic and leaves an `AuditEvent` in the same transaction. Reads for the pages
are in `selectors`, the signals (built in and contributed) in `signals`.
"""

import json
import time
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from brokerage.errors import InvalidInput, NotAllowed
from brokerage.mail import email_send, header_value
from brokerage.models import Desk, User
from brokerage.services import Actor, audit_record, audit_record_many
from clients import audit_events
from clients.models import (
    Client,
    ClientActivity,
    Deal,
    OutreachTemplate,
    RetentionAction,
    RetentionFlag,
    RetentionPolicy,
    TradingAccount,
)
from clients.selectors import clients_visible_to

from .selectors import retention_desks_for, template_render
from .signals import day_label, signals_for

SYSTEM_ACTOR = "rule:retention"
# Serialises the daily run with clearing on trade, so a run never re-opens a flag that a
# sync cleared while the run was reading.
_RUN_LOCK = 0x52_45_54_31  # "RET1"


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


# --- The daily run -----------------------------------------------------------------------------


@dataclass
class _Candidate:
    client_id: int
    desk_id: int | None
    last_trade_at: datetime | None
    first_opened_at: datetime
    last_login: datetime | None


def _candidates() -> list[_Candidate]:
    """Clients (not closed) with at least one active trading account that is funded: a
    balance or equity above zero, or any deal at all."""
    sql = f"""
        SELECT c.id, c.desk_id, c.last_trade_at, a.first_opened_at, u.last_login
        FROM (
            SELECT ta.client_id, MIN(ta.opened_at) AS first_opened_at
            FROM {_table(TradingAccount)} ta
            GROUP BY ta.client_id
            HAVING bool_or(ta.status = %s AND (
                ta.balance_amount > 0 OR ta.equity_amount > 0
                OR EXISTS (SELECT 1 FROM {_table(Deal)} d WHERE d.account_id = ta.id)))
        ) a
        JOIN {_table(Client)} c ON c.id = a.client_id
        JOIN {_table(User)} u ON u.id = c.user_id
        WHERE c.status <> %s
    """  # noqa: S608
    with connection.cursor() as cur:
        cur.execute(sql, [TradingAccount.Status.ACTIVE, Client.Status.CLOSED])
        return [_Candidate(*row) for row in cur.fetchall()]


def _policies() -> dict[int | None, RetentionPolicy]:
    return {p.desk_id: p for p in RetentionPolicy.objects.filter(is_active=True)}


def _policy_for(policies, desk_id) -> RetentionPolicy | None:
    return policies.get(desk_id) or policies.get(None)


def _update_flags(rows: list[tuple], columns: list[tuple[str, str]], where: str = "") -> int:
    """UPDATE flags from parallel arrays (one statement per 5,000 rows): `rows` are tuples
    (id, *values) in the order of `columns` [(column, postgres type)]."""
    if not rows:
        return 0
    table = _table(RetentionFlag)
    names = ["id", *(c for c, _ in columns)]
    types = ["bigint", *(t for _, t in columns)]
    unnest = ", ".join(f"%s::{t}[]" for t in types)
    sets = ", ".join(f"{c} = v.{c}" for c, _ in columns)
    # Column and table names are ours; every value is a parameter.
    head = f"UPDATE {table} f SET {sets} "  # noqa: S608
    sql = head + f"FROM unnest({unnest}) AS v({', '.join(names)}) WHERE f.id = v.id {where}"
    done = 0
    with connection.cursor() as cur:
        for start in range(0, len(rows), 5000):
            chunk = rows[start : start + 5000]
            cur.execute(sql, [list(col) for col in zip(*chunk, strict=True)])
            done += cur.rowcount
    return done


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False)


@transaction.atomic
def retention_flags_run(*, now: datetime | None = None, actor: Actor = SYSTEM_ACTOR) -> dict:
    """Flag every funded client with no trade for their desk's threshold (or refresh their open
    flag's days and signals), and clear open flags whose client traded within it again."""
    started = time.monotonic()
    now = now or timezone.now()
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [_RUN_LOCK])
    policies = _policies()
    candidates = {c.client_id: c for c in _candidates()}
    open_flags = {
        f["client_id"]: f
        for f in RetentionFlag.objects.filter(status=RetentionFlag.Status.OPEN).values(
            "id", "client_id", "last_trade_at", "desk_id"
        )
    }

    quiet: dict[int, tuple[_Candidate, RetentionPolicy, int]] = {}
    clear: dict[int, str] = {}  # flag id -> reason
    for client_id, cand in candidates.items():
        policy = _policy_for(policies, cand.desk_id)
        flag = open_flags.get(client_id)
        since = cand.last_trade_at or cand.first_opened_at
        days = max((now - since).days, 0)
        if policy is not None and days >= policy.inactivity_days:
            quiet[client_id] = (cand, policy, days)
        elif flag is not None:
            if policy is None:
                clear[flag["id"]] = "No active retention policy applies to the client's desk"
            elif cand.last_trade_at and (
                flag["last_trade_at"] is None or cand.last_trade_at > flag["last_trade_at"]
            ):
                clear[flag["id"]] = f"Traded again on {day_label(cand.last_trade_at)}"
            else:
                clear[flag["id"]] = (
                    f"Within the inactivity threshold again ({policy.inactivity_days} days)"
                )
    for client_id, flag in open_flags.items():
        if client_id not in candidates:
            clear[flag["id"]] = "No funded trading account any more"

    ids = sorted(quiet)
    signals = signals_for(quiet, now)

    new = [
        RetentionFlag(
            client_id=i,
            desk_id=quiet[i][0].desk_id,
            status=RetentionFlag.Status.OPEN,
            days_inactive=quiet[i][2],
            last_trade_at=quiet[i][0].last_trade_at,
            signals=signals[i],
            flagged_at=now,
            refreshed_at=now,
        )
        for i in ids
        if i not in open_flags
    ]
    RetentionFlag.objects.bulk_create(new, batch_size=2000)
    refreshed = _update_flags(
        [
            (
                open_flags[i]["id"],
                quiet[i][0].desk_id,
                quiet[i][2],
                quiet[i][0].last_trade_at,
                _json(signals[i]),
                now,
            )
            for i in ids
            if i in open_flags
        ],
        [
            ("desk_id", "bigint"),
            ("days_inactive", "integer"),
            ("last_trade_at", "timestamptz"),
            ("signals", "jsonb"),
            ("refreshed_at", "timestamptz"),
        ],
        where=f"AND f.status = '{RetentionFlag.Status.OPEN}'",
    )
    client_of = {f["id"]: f["client_id"] for f in open_flags.values()}
    cleared_rows = [
        (fid, RetentionFlag.Status.CLEARED, now, reason) for fid, reason in clear.items()
    ]
    cleared = _update_flags(
        cleared_rows,
        [("status", "text"), ("cleared_at", "timestamptz"), ("cleared_reason", "text")],
        where=f"AND f.status = '{RetentionFlag.Status.OPEN}'",
    )
    audit_record_many(
        actor=actor,
        action=audit_events.RETENTION_FLAGGED,
        entries=[
            (
                flag,
                flag.signals[0]["detail"],
                {
                    "client_id": flag.client_id,
                    "days_inactive": flag.days_inactive,
                    "signals": [s["code"] for s in flag.signals],
                },
            )
            for flag in new
        ],
    )
    audit_record_many(
        actor=actor,
        action=audit_events.RETENTION_CLEARED,
        entries=[
            (
                RetentionFlag(
                    pk=fid, client_id=client_of[fid], status=RetentionFlag.Status.CLEARED
                ),
                reason,
                {"client_id": client_of[fid]},
            )
            for fid, reason in sorted(clear.items())
        ],
    )
    return {
        "candidates": len(candidates),
        "flagged": len(new),
        "refreshed": refreshed,
        "cleared": cleared,
        "seconds": round(time.monotonic() - started, 2),
    }


@transaction.atomic
def retention_flags_clear_on_trade(*, client_ids, actor: Actor, wait: bool = True) -> int:
    """The client traded again: clear their open flags. The platform sync calls this after it
    ingests new buy/sell deals for `client_ids` (and has moved their last trade time). A flag
    stays open if the client's last trade is no newer than the one it was raised on (a late
    deal from before the flag). Returns how many flags it cleared.

    With `wait=False` (the sync) it never waits for a daily run in progress: the clearing is
    queued for the worker instead, so the sync keeps its pace."""
    ids = sorted({int(i) for i in client_ids})
    if not ids:
        return 0
    with connection.cursor() as cur:
        if wait:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [_RUN_LOCK])
        else:
            cur.execute("SELECT pg_try_advisory_xact_lock(%s)", [_RUN_LOCK])
            if not cur.fetchone()[0]:
                from clients.tasks import retention_flags_clear_task

                transaction.on_commit(
                    lambda: retention_flags_clear_task.apply_async((ids,), countdown=30)
                )
                return 0
    flags = list(
        RetentionFlag.objects.select_for_update()
        .filter(status=RetentionFlag.Status.OPEN, client_id__in=ids)
        .order_by("pk")
    )
    if not flags:
        return 0
    traded = dict(
        Client.objects.filter(pk__in=[f.client_id for f in flags]).values_list(
            "pk", "last_trade_at"
        )
    )
    flags = [
        f
        for f in flags
        if traded.get(f.client_id)
        and (f.last_trade_at is None or traded[f.client_id] > f.last_trade_at)
    ]
    if not flags:
        return 0
    now = timezone.now()
    entries = []
    for flag in flags:
        at = traded[flag.client_id]
        flag.status = RetentionFlag.Status.CLEARED
        flag.cleared_at = now
        flag.cleared_reason = f"Traded again on {day_label(at)}"
        entries.append((flag, flag.cleared_reason, {"client_id": flag.client_id}))
    RetentionFlag.objects.bulk_update(flags, ["status", "cleared_at", "cleared_reason"])
    audit_record_many(actor=actor, action=audit_events.RETENTION_CLEARED, entries=entries)
    return len(flags)


# --- Outreach ------------------------------------------------------------------------------------


# Which call outcome (the communication history's vocabulary) a retention outcome means.
_CALL_OUTCOME = {
    RetentionFlag.Outcome.NO_ANSWER: ClientActivity.CallOutcome.NO_ANSWER,
    RetentionFlag.Outcome.CALL_BACK: ClientActivity.CallOutcome.CALL_BACK,
}


def _may_work(actor) -> bool:
    return isinstance(actor, str) or (
        actor.is_active
        and actor.is_staff
        and (actor.is_superuser or actor.has_perm("clients.work_retention"))
    )


@transaction.atomic
def retention_action_log(
    *,
    flag: RetentionFlag,
    actor: Actor,
    channel: str,
    template: OutreachTemplate | None = None,
    subject: str = "",
    body: str = "",
    outcome: str = "",
) -> RetentionAction:
    """Log an outreach on a flag: an email (sent to the client after commit) or a call (with
    its outcome). Both go to the client's communication history and update the flag."""
    if not _may_work(actor):
        raise NotAllowed("Your role does not work the retention queue.")
    flag = RetentionFlag.objects.select_for_update().select_related("client__user").get(pk=flag.pk)
    if not isinstance(actor, str) and not (
        clients_visible_to(actor).filter(pk=flag.client_id).exists()
    ):
        raise NotAllowed("This client belongs to another desk.")
    if flag.status != RetentionFlag.Status.OPEN:
        raise InvalidInput("This flag is cleared: the client is active again.", code="flag_cleared")
    if channel not in OutreachTemplate.Channel.values:
        raise InvalidInput("Choose email or call.", fields={"channel": ["Unknown channel."]})
    if outcome and outcome not in RetentionFlag.Outcome.values:
        raise InvalidInput("Unknown outcome.", fields={"outcome": ["Unknown outcome."]})
    if template is not None and not (subject or body):
        subject, body = template_render(
            template, flag, agent=None if isinstance(actor, str) else actor
        )
    subject, body = header_value(subject)[:200], body.strip()
    client = flag.client
    errors = {}
    if channel == OutreachTemplate.Channel.EMAIL:
        if not subject:
            errors["subject"] = ["An email needs a subject."]
        if not body:
            errors["body"] = ["An email needs a message."]
        if not client.user.email:
            errors["channel"] = ["The client has no email address."]
    elif not outcome:
        errors["outcome"] = ["Say how the call went."]
    if errors:
        raise InvalidInput("The outreach is incomplete.", fields=errors)

    now = timezone.now()
    action = RetentionAction.objects.create(
        flag=flag,
        template=template,
        channel=channel,
        outcome=outcome,
        subject=subject if channel == OutreachTemplate.Channel.EMAIL else "",
        body=body,
        actor=None if isinstance(actor, str) else actor,
    )
    label = actor if isinstance(actor, str) else actor.email
    data = {
        "flag_id": flag.pk,
        "retention_action_id": action.pk,
        "template": template.name if template else "",
        "retention_outcome": outcome,
    }
    if channel == OutreachTemplate.Channel.EMAIL:
        ClientActivity.objects.create(
            client=client,
            kind=ClientActivity.Kind.OUTREACH,
            actor=None if isinstance(actor, str) else actor,
            actor_label=label,
            subject=subject,
            body=body,
            data={**data, "channel": "email", "to": client.user.email},
        )
    else:
        ClientActivity.objects.create(
            client=client,
            kind=ClientActivity.Kind.CALL,
            actor=None if isinstance(actor, str) else actor,
            actor_label=label,
            subject="Retention call",
            body=body,
            data={
                **data,
                "outcome": _CALL_OUTCOME.get(outcome, ClientActivity.CallOutcome.ANSWERED),
            },
        )
    update = ["last_contacted_at"]
    flag.last_contacted_at = now
    if outcome:
        flag.last_outcome = outcome
        update.append("last_outcome")
    flag.save(update_fields=update)
    audit_record(
        actor=actor,
        action=audit_events.RETENTION_EMAIL_SENT
        if channel == "email"
        else audit_events.RETENTION_CALL_LOGGED,
        target=flag,
        reason=RetentionFlag.Outcome(outcome).label if outcome else subject,
        evidence={
            "client_id": client.pk,
            "channel": channel,
            "template": template.name if template else None,
            "outcome": outcome or None,
        },
    )
    if channel == OutreachTemplate.Channel.EMAIL:
        transaction.on_commit(
            lambda: email_send(
                subject=subject,
                body=body,
                to=[client.user.email],
                reply_to=[actor.email] if not isinstance(actor, str) else None,
            )
        )
    return action


# --- Policies (settings page) --------------------------------------------------------------------


@transaction.atomic
def retention_policy_set(
    *,
    actor,
    desk: Desk | None,
    inactivity_days: int,
    balance_drop_percent: int,
    no_login_days: int,
    is_active: bool = True,
) -> RetentionPolicy:
    """Set a desk's thresholds (desk None: the default everyone else gets). Audited."""
    may_default, desks = retention_desks_for(actor)
    if desk is None and not may_default:
        raise NotAllowed("Only operations set the default retention policy.")
    if desk is not None and not desks.filter(pk=desk.pk).exists():
        raise NotAllowed("You set thresholds for your own desks only.")
    errors = {}
    if not 1 <= inactivity_days <= 365:
        errors["inactivity_days"] = ["Between 1 and 365 days."]
    if not 1 <= balance_drop_percent <= 100:
        errors["balance_drop_percent"] = ["Between 1 and 100 percent."]
    if not 1 <= no_login_days <= 365:
        errors["no_login_days"] = ["Between 1 and 365 days."]
    if desk is None and not is_active:
        errors["is_active"] = ["The default policy is always in force."]
    if errors:
        raise InvalidInput("Check the thresholds.", fields=errors)
    policy = RetentionPolicy.objects.select_for_update().filter(desk=desk).first()
    before = (
        None
        if policy is None
        else {
            "inactivity_days": policy.inactivity_days,
            "balance_drop_percent": policy.balance_drop_percent,
            "no_login_days": policy.no_login_days,
            "is_active": policy.is_active,
        }
    )
    after = {
        "inactivity_days": inactivity_days,
        "balance_drop_percent": balance_drop_percent,
        "no_login_days": no_login_days,
        "is_active": is_active,
    }
    if before == after:
        return policy
    policy = policy or RetentionPolicy(desk=desk)
    for field, value in after.items():
        setattr(policy, field, value)
    policy.save()
    audit_record(
        actor=actor,
        action=audit_events.RETENTION_POLICY_SET,
        target=policy,
        reason=f"{desk.name if desk else 'Default'}: {inactivity_days} days inactive, "
        f"{balance_drop_percent}% balance drop, {no_login_days} days without sign-in",
        evidence={"desk": desk.name if desk else None, "before": before, "after": after},
    )
    return policy
