"""The wallet statement as PDF: the document itself, and the portal's download."""

import io
from datetime import datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.template.loader import render_to_string
from django.utils import timezone
from pypdf import PdfReader
from weasyprint import HTML

from finance.documents import statement_context, statement_pdf
from finance.psp import EventKind
from finance.services import psp_event_apply, withdrawal_request
from tests.conftest import ARTIFACTS, login, make_client_user
from tests.finance.conftest import deposit_paid, event, fresh, verified_client

pytestmark = pytest.mark.django_db

D = Decimal
STATEMENT = "/portal/wallet/statement.pdf"


def text_of(pdf: bytes) -> str:
    assert pdf.startswith(b"%PDF")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


@pytest.fixture
def history(methods, monkeypatch):
    """A client with USD 100.00 deposited 40 days ago, then USD 250.00 deposited and USD 50.00
    withdrawn (paid) today: opening 100.00 for the last ten days, closing 300.00."""
    client = verified_client()
    client.user.last_name = "Okafor"
    client.user.save()
    past = timezone.now() - timedelta(days=40)
    with monkeypatch.context() as m:
        m.setattr("finance.ledger.timezone", SimpleNamespace(now=lambda: past))
        old = deposit_paid(client, methods["stripe"], "100.00")
    new = deposit_paid(client, methods["stripe"], "250.00")
    w = withdrawal_request(client=client, amount="50", currency="USD", psp="stripe", actor="t")
    psp_event_apply(
        psp="stripe",
        event=event(
            EventKind.PAYOUT_PAID,
            reference=w.reference,
            provider_reference="re_payout_1",
            amount="50",
        ),
    )
    assert fresh(w).status == "paid"
    today = timezone.now().date()
    return SimpleNamespace(
        client=client, old=old, new=new, withdrawal=w, start=today - timedelta(days=10), end=today
    )


def test_the_statement_shows_opening_lines_running_and_closing_balance(history):
    pdf = statement_pdf(client=history.client, currency="USD", start=history.start, end=history.end)
    text = text_of(pdf)
    assert "Brokerage" in text
    assert "Tia Okafor" in text
    assert "trader@test.example" in text
    assert str(history.client.pk) in text
    assert "Opening balance" in text and "USD 100.00" in text
    assert "Closing balance" in text and "USD 300.00" in text
    assert "Deposit" in text and history.new.reference in text
    assert history.new.provider_reference in text
    assert "Withdrawal" in text and history.withdrawal.reference in text
    assert "re_payout_1" in text
    assert "350.00" in text  # running balance after the deposit
    assert history.old.reference not in text  # before the period: in the opening balance
    assert "Generated" in text and "UTC" in text


def test_a_period_with_nothing_says_so(history):
    start = history.start - timedelta(days=20)
    pdf = statement_pdf(client=history.client, currency="USD", start=start, end=start)
    text = text_of(pdf)
    assert "No movements in this period." in text
    assert text.count("USD 100.00") >= 2  # opening equals closing


def test_the_brokerage_name_comes_from_settings(history, settings):
    settings.BROKERAGE_NAME = "Northgate Markets Ltd"
    text = text_of(
        statement_pdf(client=history.client, currency="USD", start=history.end, end=history.end)
    )
    assert "Northgate Markets Ltd" in text


def test_the_portal_serves_the_clients_own_statement(client, history):
    login(client, history.client.user)
    response = client.get(
        STATEMENT, {"currency": "USD", "start": history.start, "end": history.end}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    name = f"statement-{history.client.pk}-USD-{history.start:%Y%m%d}-{history.end:%Y%m%d}.pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{name}"'
    assert response["Cache-Control"] == "private, no-store"
    text = text_of(response.content)
    assert "USD 100.00" in text and "USD 300.00" in text
    assert history.new.reference in text


def test_a_month_covers_the_calendar_month(client, history):
    login(client, history.client.user)
    month = history.end.replace(day=1)
    response = client.get(STATEMENT, {"currency": "USD", "month": f"{month:%Y-%m}"})
    assert response.status_code == 200
    assert f"-USD-{month:%Y%m}01-" in response["Content-Disposition"]


@pytest.mark.parametrize(
    "params, message",
    [
        ({"start": "2026-03-10", "end": "2026-03-01"}, "The end date is before the start date."),
        ({"start": "2024-01-01", "end": "2025-01-01"}, "at most 366 days"),
        ({"start": "2026-03-10", "month": "2026-03"}, "Choose both a from and a to date"),
        ({}, "Choose a month, or both a from and a to date."),
        ({"month": "2026-13"}, "Give the month as YYYY-MM."),
        ({"start": "yesterday", "end": "2026-03-01"}, "Enter a valid date."),
    ],
)
def test_bad_dates_are_a_clear_400_on_the_wallet_page(client, history, params, message):
    login(client, history.client.user)
    response = client.get(STATEMENT, {"currency": "USD", **params})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert message in html
    assert "data-statement-error" in html
    assert 'data-wallet="USD"' in html  # the wallet page, with the form to correct


def test_an_explicit_period_wins_over_the_month(client, history):
    login(client, history.client.user)
    params = {"currency": "USD", "month": "2026-01", "start": "2025-12-01", "end": "2025-12-15"}
    response = client.get(STATEMENT, params)
    assert response.status_code == 200
    assert "-USD-20251201-20251215.pdf" in response["Content-Disposition"]


def test_a_full_leap_year_is_allowed(client, history):
    login(client, history.client.user)
    response = client.get(
        STATEMENT, {"currency": "USD", "start": "2024-01-01", "end": "2024-12-31"}
    )
    assert response.status_code == 200


@pytest.mark.parametrize("currency", ["EUR", "GBP", "usd", "", "XXXX"])
def test_a_currency_without_a_wallet_is_404(client, history, currency):
    login(client, history.client.user)
    response = client.get(STATEMENT, {"currency": currency, "month": "2026-01"})
    assert response.status_code == 404


def test_another_clients_wallet_is_never_in_the_statement(client, history):
    other = make_client_user("other@test.example")
    login(client, other)
    response = client.get(STATEMENT, {"currency": "USD", "month": "2026-01"})
    assert response.status_code == 404  # the other client has no USD wallet of their own


def test_the_back_office_can_render_any_clients_statement(history):
    """The same function, called with the client object (no request, no portal scoping)."""
    start = datetime(2020, 1, 1).date()
    pdf = statement_pdf(client=history.client, currency="USD", start=start, end=history.end)
    text = text_of(pdf)
    assert "USD 0.00" in text  # opening before the first deposit
    assert history.old.reference in text
    assert "USD 300.00" in text


def test_the_legal_footer_and_a_closing_balance_never_dated_after_today(history, settings):
    """Every page carries the brokerage's name, licence and registered office (settings, from
    the environment); a period that runs past today closes today."""
    settings.BROKERAGE_NAME = "Northgate Markets Ltd"
    settings.BROKERAGE_LICENCE = "Authorised and regulated by the FCA (FRN 123456)"
    settings.BROKERAGE_ADDRESS = "1 Example Street, London EC1A 1AA, United Kingdom"
    later = history.end + timedelta(days=20)
    pdf = statement_pdf(client=history.client, currency="USD", start=history.start, end=later)
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages]
    for text in pages:
        assert "Northgate Markets Ltd" in text
        assert "Authorised and regulated by the FCA (FRN 123456)" in text
        assert "1 Example Street, London EC1A 1AA, United Kingdom" in text
    text = "\n".join(pages)
    today = f"{history.end.day} {history.end:%b %Y}"
    closing = [line for line in text.splitlines() if "Closing balance" in line and "USD" in line]
    assert closing and today in closing[-1], closing
    assert f"{later.day} {later:%b %Y}" not in text  # nothing dated in the future


def test_the_statement_renders_without_overlapping_text(history, settings, tmp_path):
    """The statement as an image (docs/screenshots/statement-pdf.png is one): every word of the
    page's text boxes is laid out apart from the others."""
    settings.BROKERAGE_LICENCE = "Authorised and regulated by the FCA (FRN 123456)"
    settings.BROKERAGE_ADDRESS = "1 Example Street, London EC1A 1AA, United Kingdom"
    html = render_to_string(
        "finance/statement_pdf.html",
        statement_context(
            client=history.client, currency="USD", start=history.start, end=history.end
        ),
    )
    document = HTML(string=html, base_url=str(settings.BASE_DIR)).render()

    def text_boxes(box):
        if type(box).__name__ == "TextBox" and box.text.strip():
            yield box
        for child in getattr(box, "children", None) or []:
            yield from text_boxes(child)

    overlaps, seen = [], 0
    for page in document.pages:
        boxes = list(text_boxes(page._page_box))
        seen += len(boxes)
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                if (
                    a.position_x < b.position_x + b.width - 0.5
                    and b.position_x < a.position_x + a.width - 0.5
                    and a.position_y < b.position_y + b.height - 0.5
                    and b.position_y < a.position_y + a.height - 0.5
                ):
                    overlaps.append((a.text, b.text))
    assert seen > 20
    assert not overlaps, overlaps[:5]
    ARTIFACTS.mkdir(exist_ok=True)
    document.write_pdf(ARTIFACTS / "statement.pdf")
