"""Why an alert was raised, in words an officer reads, with the figures; and each evidence
row's line (a deposit's reference, amount and PSP)."""

from __future__ import annotations

from decimal import Decimal

from brokerage.intl import country_name
from brokerage.money import format_money
from kyc.models import Band

from .typologies import Hit


def usd(value) -> str:
    return f"USD {Decimal(str(value)):,.2f}"


def _countries(codes) -> str:
    return ", ".join(f"{country_name(c)} ({c})" for c in codes) or "none"


def explain(code: str, hit: Hit, p: dict) -> str:
    f = hit.figures
    if code == "quick_in_out":
        return (
            f"{usd(f['deposits_usd'])} deposited within {p['window_days']} days and "
            f"{usd(f['withdrawals_usd'])} asked back "
            f"({_share(f['withdrawals_usd'], f['deposits_usd'])} of it), with "
            f"{Decimal(str(f['lots'])):.2f} lots traded in between (under {p['max_lots']})."
        )
    if code == "structuring":
        parts = []
        for key in ("deposits", "withdrawals"):
            rows = [e for e in hit.evidence if e["kind"] == key[:-1]]
            if f[key]:
                amounts = [Decimal(str(e["usd"])) for e in rows]
                parts.append(
                    f"{f[key]} {key} of {usd(min(amounts))}-{usd(max(amounts))[4:]} within "
                    f"{p['window_days']} days, each just under {usd(p['threshold_usd'])}"
                )
        return "; ".join(parts) + "."
    if code == "velocity":
        return (
            f"{usd(f['total'])} deposited in the last {p['window_days']} days: "
            f"{f['multiple']} times the client's weekly average of {usd(f['weekly'])} over the "
            f"previous {p['history_days']} days (alert from {p['multiple']} times)."
        )
    if code == "third_party_funding":
        parts = []
        if f["payers"]:
            parts.append(
                f"Deposits paid by {', '.join(f['payers'])}, not the client "
                f"({f['client_name'] or 'no name on file'})"
            )
        if f["shared_with"]:
            ids = ", ".join(str(c) for c in f["shared_with"])
            parts.append(
                f"a payment instrument that funded this client also funded client(s) {ids} "
                f"within {p['window_days']} days"
            )
        return _sentence(parts)
    if code == "beyond_declared":
        text = (
            f"{usd(f['total'])} deposited within {p['window_days']} days, against declared "
            f"yearly deposits of {usd(f['expected'])} and an income of "
            f"{Band(f['income_band']).label} ({usd(f['income'])} at most)"
        )
        if f["over_worth"]:
            text += f", above the declared net worth of {Band(f['worth_band']).label}"
        return text + "."
    if code == "high_risk_country":
        return (
            f"Money moved through a card, account or bank of {_countries(f['countries'])} "
            f"(high risk), the largest {usd(f['top'])}."
        )
    if code == "psp_switching":
        parts = []
        if f["by_deposits"]:
            parts.append(
                f"deposit attempts through {len(f['psps'])} payment providers within "
                f"{p['window_hours']} hours, {f['failed']} failed, then one completed"
            )
        if f["by_withdrawals"]:
            parts.append(
                f"a withdrawal rejected and asked again by another method within "
                f"{p['window_hours']} hours"
            )
        return _sentence(parts)
    if code == "dormant_reactivation":
        moved = max(Decimal(str(f["deposits_usd"])), Decimal(str(f["withdrawals_usd"])))
        return (
            f"No money or trading for {f['idle_days']} days, then {usd(moved)} moved within "
            f"{p['window_days']} days."
        )
    if code == "mirror_trading":
        return (
            f"{f['pairs']} pairs of opposite deals ({', '.join(f['symbols'])}) opened within "
            f"{p['seconds']} seconds of deals of linked client(s) "
            f"{', '.join(str(c) for c in f['with'])} within {p['window_days']} days."
        )
    if code == "chargeback_ratio":
        return (
            f"{f['chargebacks']} chargebacks against {f['deposits']} completed deposits within "
            f"{p['window_days']} days (ratio {f['ratio']}, alert from {p['ratio']})."
        )
    raise LookupError(code)


def _sentence(parts: list[str]) -> str:
    """Clauses joined by semicolons into one sentence, its first letter a capital."""
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "."


def _share(part, whole) -> str:
    whole = Decimal(str(whole))
    return f"{Decimal(str(part)) / whole:.0%}" if whole else "all"


def evidence_line(e: dict) -> str:
    """An evidence row's line: "D-2026-1234: 9,500.00 EUR via Stripe", a deal, a linked client."""
    from finance.psp import PSP_NAMES

    if e["kind"] in ("deal", "client_link"):
        return e.get("note") or ""
    line = e.get("ref") or ""
    if e.get("amount") is not None and e.get("currency"):
        line += f": {format_money(Decimal(str(e['amount'])), e['currency'])}"
    if e.get("psp"):
        line += f" via {PSP_NAMES.get(e['psp'], e['psp'])}"
    note = e.get("note") or ""
    if note and note not in ("completed",):
        line += f" ({note})"
    return line
