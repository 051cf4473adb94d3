"""The client's trading accounts on the portal overview (hook `portal.overview`)."""

from django.urls import reverse

from brokerage.money import format_money
from brokerage.portal import NextStep, Notice, OverviewPart, Tile
from brokerage.statements import Statement

from .models import TradingAccount


def _unbroken(text: str) -> str:
    return text.replace(" ", "\u00a0")


def trading_overview(client) -> OverviewPart:
    accounts = list(
        TradingAccount.objects.filter(client=client)
        .exclude(status="closed")
        .select_related("server")
        .order_by("login")
    )
    tile = Tile(
        "trading",
        "Trading accounts",
        "graph-up-arrow",
        lines=[
            (f"{a.login} · {a.server.name}", _unbroken(format_money(a.balance_amount, a.currency)))
            for a in accounts
        ],
        url=reverse("portal:trading"),
        link_text="Open trading",
        order=30,
        empty="No trading account yet.",
    )
    if not accounts:
        step = NextStep(
            30,
            "Open a trading account",
            "Choose an account type; your login and password are ready in a moment.",
            reverse("portal:account_open"),
            "Open an account",
            "window-plus",
        )
    else:
        step = NextStep(
            40,
            "Start trading",
            "Move funds from your wallet to your account, then sign in to the platform: "
            "download it or use the web terminal.",
            reverse("portal:trading"),
            "Go to trading",
            "graph-up-arrow",
        )
    return OverviewPart(tiles=[tile], steps=[step])


CATEGORY_NOTICE_DAYS = 14


def _decided_category(v):
    from .models import CategoryRequest

    return (
        CategoryRequest.objects.filter(client_id=v.client_id, decided_at__gte=v.since)
        .exclude(status=CategoryRequest.Status.PENDING)
        .order_by("-decided_at", "-pk")[:1]
    )


_DECIDED_CATEGORY = Statement(_decided_category)  # every portal page asks: compiled once


def category_notices(client):
    """A professional-status request decided in the last `CATEGORY_NOTICE_DAYS` days, on every
    portal page (hook `portal.notices`): approved, or refused with the officer's reason."""
    from datetime import timedelta

    from django.utils import timezone

    from .models import CategoryRequest

    since = timezone.now() - timedelta(days=CATEGORY_NOTICE_DAYS)
    decided = _DECIDED_CATEGORY.first(client_id=client.pk, since=since)
    if decided is None:
        return
    url, link = reverse("portal:category"), "Your category"
    if decided.status == CategoryRequest.Status.APPROVED:
        yield Notice(
            "category_approved",
            f"You are now treated as a {decided.get_category_display().lower()} client.",
            "The leverage your accounts may have follows your new category.",
            tone="success",
            icon="person-up",
            url=url,
            link_text=link,
            order=40,
        )
    else:
        yield Notice(
            "category_refused",
            "Your request to be treated as a professional client was not approved.",
            decided.decision_reason,
            tone="info",
            icon="person-up",
            url=url,
            link_text=link,
            order=40,
        )
