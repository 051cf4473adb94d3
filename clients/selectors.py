import ipaddress
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Window
from django.db.models.functions import TruncDate
from django.utils import timezone

from brokerage.models import Desk
from brokerage.statements import Statement

from .models import AccessRecord, Client, ClientActivity, DealRevision, PersonalDataView


def client_for_user(user) -> Client | None:
    """The user's client record; None for anyone else (an IB partner's holder included)."""
    return (
        Client.objects.filter(user=user, holder=Client.Holder.CLIENT).select_related("user").first()
    )


def holder_for_user(user) -> Client | None:
    """The account holder of a client or an IB partner: who holds the wallets."""
    return Client.objects.filter(user=user).select_related("user").first()


def client_for_email(email: str) -> Client | None:
    if not email:
        return None
    return Client.objects.filter(user__email=email.lower()).first()


def client_signups_per_day(*, days: int = 14) -> list[dict]:
    start = (timezone.now() - timezone.timedelta(days=days - 1)).date()
    rows = (
        Client.objects.filter(created_at__date__gte=start, holder=Client.Holder.CLIENT)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(n=Count("id"))
    )
    counts = {r["day"]: r["n"] for r in rows}
    days_list = [start + timezone.timedelta(days=i) for i in range(days)]
    return [{"day": d.isoformat(), "count": counts.get(d, 0)} for d in days_list]


def client_summary() -> dict:
    week_ago = timezone.now() - timezone.timedelta(days=7)
    return Client.objects.filter(holder=Client.Holder.CLIENT).aggregate(
        total=Count("id"), new_7d=Count("id", filter=Q(created_at__gte=week_ago))
    )


# --- Scoping: which clients a staff user may see ---------------------------------------------


def clients_visible_to(user) -> QuerySet[Client]:
    """Every client for roles that see all; the desk's (and their own) clients for desk roles;
    nothing for anyone else. The one place back-office client scoping is decided. Partners'
    account holders are not clients: their money is seen from the partner's page."""
    qs = Client.objects.filter(holder=Client.Holder.CLIENT)
    scope = _scope_of(user)
    if scope == "all":
        return qs
    if scope == "desk":
        return qs.filter(_on_desks_of(user.pk))
    return qs.none()


def _scope_of(user) -> str | None:
    """Which clients `user` sees: "all", "desk" (their desks' and their own), or None."""
    if not getattr(user, "is_authenticated", False) or not user.is_staff:
        return None
    if user.is_superuser or user.has_perm("clients.view_all_clients"):
        return "all"
    if user.has_perm("clients.view_desk_clients"):
        return "desk"
    return None


def _on_desks_of(user_id) -> Q:
    """The clients of the desks the user manages or sits on, and those they manage."""
    desks = Desk.objects.filter(Q(manager_id=user_id) | Q(members__user_id=user_id)).values("pk")
    return Q(desk__in=desks) | Q(account_manager_id=user_id)


# client_get's read for each scope, compiled once per process (brokerage.statements)
_CLIENT_RELATED = ("user", "desk", "account_manager")
_CLIENT_GET = {
    "all": Statement(
        lambda v: (
            Client.objects.filter(holder=Client.Holder.CLIENT, pk=v.client_id)
            .select_related(*_CLIENT_RELATED)
            .order_by()[:1]
        )
    ),
    "desk": Statement(
        lambda v: (
            Client.objects.filter(holder=Client.Holder.CLIENT, pk=v.client_id)
            .filter(_on_desks_of(v.user_id))
            .select_related(*_CLIENT_RELATED)
            .order_by()[:1]
        )
    ),
}


def client_get(*, user, client_id: int) -> Client:
    """The client, if `user` may see them: Client.DoesNotExist otherwise, or NotAllowed when the
    client exists but belongs to another desk."""
    from brokerage.errors import NotAllowed

    # One query when the user may see the client (every page of a client asks).
    scope = _scope_of(user)
    client = None
    if not 0 < client_id < 2**63:  # no such key (a bound value is not range-checked)
        raise Client.DoesNotExist(f"No client {client_id}.")
    if scope == "all":
        client = _CLIENT_GET["all"].first(client_id=client_id)
    elif scope == "desk":
        client = _CLIENT_GET["desk"].first(client_id=client_id, user_id=user.pk)
    if client is None:
        Client.objects.only("pk").get(pk=client_id)  # DoesNotExist when there is none
        raise NotAllowed("This client belongs to another desk.")
    return client


def desks_visible_to(user) -> QuerySet[Desk]:
    """The desks whose clients `user` may see (for filters): all, or the ones they sit on."""
    if not getattr(user, "is_authenticated", False) or not user.is_staff:
        return Desk.objects.none()
    if user.is_superuser or user.has_perm("clients.view_all_clients"):
        return Desk.objects.all()
    return Desk.objects.filter(Q(manager=user) | Q(members__user=user)).distinct()


def client_list(
    *,
    user,
    q: str = "",
    status: str = "",
    desk_id: int | None = None,
    kyc_level: int | None = None,
    flagged: bool = False,
    country: str = "",
    ftd: tuple | None = None,
    traded: tuple | None = None,
    conditions: list | None = None,
) -> QuerySet[Client]:
    """The back-office client list: the clients `user` may see, searched and filtered, newest
    first. Searches name, email, phone, client number and trading account login. `ftd` and
    `traded` are (first day, last day), UTC: the clients whose first deposit fell in them, or
    who made a buy or sell deal in them (the figures of the leadership workspace link here);
    `conditions` are those the apps above contribute (`clients.list_filters`)."""
    from django.db.models import Exists, OuterRef

    from .models import RetentionFlag, SupportTicket, TradingAccount

    open_flag = RetentionFlag.objects.filter(
        client=OuterRef("pk"), status=RetentionFlag.Status.OPEN
    )
    waiting = SupportTicket.objects.filter(client=OuterRef("pk"), status=SupportTicket.Status.OPEN)
    qs = (
        clients_visible_to(user)
        .select_related("user", "desk", "account_manager")
        .annotate(has_open_flag=Exists(open_flag), has_waiting_ticket=Exists(waiting))
    )
    if q:
        match = Q(user__email__icontains=q) | Q(phone__icontains=q.replace(" ", ""))
        words = q.split()
        if len(words) > 1:
            match |= Q(user__first_name__icontains=words[0], user__last_name__icontains=words[-1])
        else:
            match |= Q(user__first_name__icontains=q) | Q(user__last_name__icontains=q)
        if q.isascii() and q.isdigit() and len(q) <= 18:
            match |= Q(pk=int(q)) if len(q) <= 9 else Q()
            match |= Exists(TradingAccount.objects.filter(client=OuterRef("pk"), login=int(q)))
        qs = qs.filter(match)
    if status:
        qs = qs.filter(status=status)
    if desk_id:
        qs = qs.filter(desk_id=desk_id)
    if kyc_level is not None:
        qs = qs.filter(kyc_level=kyc_level)
    if flagged:
        qs = qs.filter(has_open_flag=True)
    if country:
        qs = qs.filter(country=country)
    if ftd is not None:
        qs = qs.filter(
            first_deposit_at__gte=_midnight(ftd[0]), first_deposit_at__lt=_midnight(ftd[1], 1)
        )
    for condition in conditions or ():
        qs = qs.filter(condition)
    if traded is not None:
        from .models import Deal

        deals = Deal.objects.filter(
            client=OuterRef("pk"),
            action__in=[Deal.Action.BUY, Deal.Action.SELL],
            removed_at__isnull=True,
            time__gte=_midnight(traded[0]),
            time__lt=_midnight(traded[1], 1),
        )
        qs = qs.filter(Exists(deals))
    return qs.order_by("-created_at", "-pk")


def _midnight(day, plus_days: int = 0):
    from datetime import UTC, datetime, time, timedelta

    return datetime.combine(day + timedelta(days=plus_days), time(), UTC)


def symbol_groups(symbols) -> dict[str, str]:
    """The symbol group commission plans price each canonical symbol by (its instrument
    class, fx_major ... stocks, unless `settings.INSTRUMENT_SYMBOL_GROUPS` maps the class to
    another group; docs/instruments.md); a symbol the instruments list does not know has none."""
    from .instruments import symbol_group
    from .models import Instrument

    rows = Instrument.objects.filter(symbol__in=list(symbols)).values_list("symbol", "asset_class")
    return {symbol: symbol_group(asset_class) for symbol, asset_class in rows}


# --- deal revisions (clients.deal_review) ------------------------------------------------------

# How staff and partners call a deal's fields in a revision's summary.
REVISION_LABELS = {
    "profit_amount": "profit",
    "swap_amount": "swap",
    "commission_amount": "commission",
    "position_id": "position",
    "volume_ext": "volume (fine)",
}


def _shown(field: str, value) -> str:
    if value is None:
        return "-"
    if field == "volume":
        return f"{Decimal(value) / 10000:.2f} lots"
    if field == "volume_ext":
        return f"{Decimal(value) / 100_000_000:f} lots"
    if field == "time":
        return str(value).replace("T", " ")[:19] + " UTC"
    return str(value)


def deal_revision_summary(revision: DealRevision) -> str:
    """ "Deal 123 corrected on the platform on 2026-12-04 16:05 UTC: volume 1.00 -> 0.50 lots"
    (or "... removed on the platform on ..."): what a line's why and the audit trail say."""
    deal = revision.deal
    when = f"{revision.detected_at:%Y-%m-%d %H:%M} UTC"
    if revision.kind == DealRevision.Kind.REMOVED:
        return f"Deal {deal.ticket} removed on the platform on {when}"
    parts = []
    for field in revision.changed:
        if field == "volume_ext" and "volume" in revision.changed:
            continue  # the same change, said once
        before, after = revision.before.get(field), (revision.after or {}).get(field)
        name = REVISION_LABELS.get(field, field)
        if field == "volume":
            parts.append(f"volume {Decimal(before) / 10000:.2f} -> {_shown(field, after)}")
        else:
            parts.append(f"{name} {_shown(field, before)} -> {_shown(field, after)}")
    return f"Deal {deal.ticket} corrected on the platform on {when}: " + "; ".join(parts)


def trading_profile_by_client(client_ids, *, since) -> dict[int, dict]:
    """Each client's highest leverage over their trading accounts and the lots they traded
    since `since`, set-based: two queries. A trade's lots count once, when the client closes
    them (closing, reversing and close-by deals; not the deal that opened the position, nor
    balance deals)."""
    from django.db.models import Max, Sum

    from .models import Deal, TradingAccount

    out: dict[int, dict] = {}
    for row in (
        TradingAccount.objects.filter(client_id__in=client_ids)
        .values("client_id")
        .annotate(leverage=Max("leverage"))
    ):
        out.setdefault(row["client_id"], {"leverage": 0, "lots": 0})["leverage"] = row["leverage"]
    for row in (
        Deal.objects.filter(
            client_id__in=client_ids,
            time__gte=since,
            action__in=[Deal.Action.BUY, Deal.Action.SELL],
            entry__in=[Deal.Entry.OUT, Deal.Entry.INOUT, Deal.Entry.OUT_BY],
            removed_at__isnull=True,
        )
        .values("client_id")
        .annotate(volume=Sum("volume"))
    ):
        entry = out.setdefault(row["client_id"], {"leverage": 0, "lots": 0})
        entry["lots"] = (row["volume"] or 0) // 10000
    return out


def client_activity_list(*, client, limit: int = 50) -> list:
    """The client's communication history (emails, notes, calls, outreach), newest first: the
    `limit` latest. A partner's emails are on its holder record."""
    if client is None:
        return []
    return list(ClientActivity.objects.filter(client=client).order_by("-created_at", "-id")[:limit])


# --- Access: sign-ins and staff views of personal data ----------------------------------------


def personal_data_view_list(
    *, client_id: int | None = None, q: str = "", what: str = "", since=None, until=None
) -> QuerySet:
    """Staff views of clients' personal data, newest first: of one client, or searched by the
    staff member's or the client's email, in [since, until)."""
    rows = PersonalDataView.objects.select_related("user", "client__user")
    if client_id is not None:
        rows = rows.filter(client_id=client_id)
    if q:
        rows = rows.filter(Q(user__email__icontains=q) | Q(client__user__email__icontains=q))
    if what:
        rows = rows.filter(what=what)
    if since is not None:
        rows = rows.filter(at__gte=since)
    if until is not None:
        rows = rows.filter(at__lt=until)
    return rows.order_by("-at", "-id")


def access_record_list(
    *, user_id: int | None = None, kind: str = "", q: str = "", since=None, until=None
) -> QuerySet:
    """Sign-ups, sign-ins and failed attempts, newest first: of one user (their own records and
    attempts on their address), or searched by address typed, user email or IP."""
    rows = AccessRecord.objects.select_related("user")
    if user_id is not None:
        rows = rows.filter(user_id=user_id)
    if kind:
        rows = rows.filter(kind=kind)
    if q:
        match = Q(identifier__icontains=q) | Q(user__email__icontains=q)
        if _is_ip(q):
            match |= Q(ip=q)
        rows = rows.filter(match)
    if since is not None:
        rows = rows.filter(at__gte=since)
    if until is not None:
        rows = rows.filter(at__lt=until)
    return rows.order_by("-at", "-id")


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


ACCESS_LIMIT = 8


def _signins(v):
    # each of the latest records carries the count over all of them (the window is taken
    # before the LIMIT)
    failures = Q(
        kind__in=[AccessRecord.Kind.LOGIN_FAILED, AccessRecord.Kind.SECOND_FACTOR_FAILED],
        at__gte=v.since,
    )
    return access_record_list(user_id=v.user_id).annotate(
        failed_30d=Window(Count("id", filter=failures))
    )[:ACCESS_LIMIT]


# client_access_summary's reads, compiled once per process (brokerage.statements)
_SIGNINS = Statement(_signins)
_DATA_VIEWS = Statement(lambda v: personal_data_view_list(client_id=v.client_id)[:ACCESS_LIMIT])


def client_access_summary(client) -> dict:
    """The client's latest sign-ins and failed attempts, the latest staff views of their data,
    and the number of failed attempts in the last 30 days. Two queries."""
    since = timezone.now() - timezone.timedelta(days=30)
    signins = _SIGNINS(user_id=client.user_id, since=since)
    failed = signins[0].failed_30d if signins else 0
    views = _DATA_VIEWS(client_id=client.pk)
    return {"signins": signins, "failed_30d": failed, "views": views}


def deal_list(
    *,
    user,
    traded: tuple | None = None,
    desk_id: int | None = None,
    country: str = "",
    symbol: str = "",
) -> QuerySet:
    """The buy and sell deals behind the trading figures (lots, notional, broker revenue,
    clients' P/L): those of the clients `user` may see, the platform has not removed, made in
    `traded` ((first day, last day), UTC), of a desk's and country's clients, on a symbol;
    newest first. Read only."""
    from .models import Deal

    qs = Deal.objects.filter(
        client__in=clients_visible_to(user),
        action__in=[Deal.Action.BUY, Deal.Action.SELL],
        removed_at__isnull=True,
    ).select_related("client__user", "account")
    if traded is not None:
        qs = qs.filter(time__gte=_midnight(traded[0]), time__lt=_midnight(traded[1], 1))
    if desk_id:
        qs = qs.filter(client__desk_id=desk_id)
    if country:
        qs = qs.filter(client__country=country)
    if symbol:
        qs = qs.filter(symbol=symbol)
    return qs.order_by("-time", "-pk")


def position_list(
    *, user, desk_id: int | None = None, country: str = "", symbol: str = ""
) -> QuerySet:
    """The open positions behind the dealing dashboard's exposure, as the platform last
    reported them: those of the clients `user` may see, of a desk's and a country's clients, on
    a symbol; the largest first. Read only."""
    from .models import Position

    qs = Position.objects.filter(client__in=clients_visible_to(user)).select_related(
        "client__user", "account"
    )
    if desk_id:
        qs = qs.filter(client__desk_id=desk_id)
    if country:
        qs = qs.filter(client__country=country)
    if symbol:
        qs = qs.filter(symbol=symbol)
    return qs.order_by("-volume", "-opened_at", "-pk")


def position_totals(positions: QuerySet) -> dict:
    """How many positions a `position_list` holds and their long, short and net lots (one
    query), as the exposure table counts them."""
    from django.db.models import Sum

    found = positions.order_by().aggregate(
        positions=Count("pk"),
        long=Sum("volume", filter=Q(action=0)),
        short=Sum("volume", filter=Q(action=1)),
    )
    found["long_lots"] = Decimal(found.pop("long") or 0) / 10000
    found["short_lots"] = Decimal(found.pop("short") or 0) / 10000
    found["net_lots"] = found["long_lots"] - found["short_lots"]
    return found


def deal_totals(deals: QuerySet) -> dict:
    """How many deals and lots a `deal_list` holds (one query)."""
    from django.db.models import Sum

    found = deals.order_by().aggregate(deals=Count("pk"), volume=Sum("volume"))
    found["lots"] = Decimal(found["volume"] or 0) / 10000
    return found
