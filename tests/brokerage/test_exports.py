"""Exports of every table and long list, CSV and XLSX, by one mechanism (brokerage.exports):
streamed, scoped as the list is, audited, figures only for executives."""

import csv
import io
import tracemalloc
import zipfile
from decimal import Decimal
from xml.etree import ElementTree

import pytest
from django.core.signals import request_finished
from django.db import close_old_connections
from django.test import RequestFactory

from brokerage.exports import Column, Export, export_response
from brokerage.models import AuditEvent, Desk
from brokerage.rollups import rollups_refresh
from clients.models import Client
from leads.models import Lead
from tests.brokerage.test_leadership import make_book
from tests.conftest import login, make_staff

pytestmark = pytest.mark.django_db

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
PERSONAL = ("first_name", "last_name", "email", "phone", "client_name", "client_email")


def body_of(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body_of(response).decode())))


def read_xlsx(data: bytes) -> list[list]:
    """The first sheet's rows: strings as str, numbers as Decimal; refuses any formula."""
    book = zipfile.ZipFile(io.BytesIO(data))
    shared = []
    if "xl/sharedStrings.xml" in book.namelist():
        root = ElementTree.fromstring(book.read("xl/sharedStrings.xml"))
        shared = ["".join(t.text or "" for t in si.iter(f"{{{NS['m']}}}t")) for si in root]
    sheet = ElementTree.fromstring(book.read("xl/worksheets/sheet1.xml"))
    rows = []
    for row in sheet.iter(f"{{{NS['m']}}}row"):
        cells = {}
        for c in row.findall("m:c", NS):
            assert c.find("m:f", NS) is None, "a formula in an export"
            col = "".join(ch for ch in c.get("r") if ch.isalpha())
            index = sum((ord(ch) - 64) * 26**i for i, ch in enumerate(reversed(col))) - 1
            kind = c.get("t")
            if kind == "inlineStr":
                value = "".join(t.text or "" for t in c.iter(f"{{{NS['m']}}}t"))
            elif kind == "s":
                value = shared[int(c.find("m:v", NS).text)]
            else:
                value = Decimal(c.find("m:v", NS).text)
            cells[index] = value
        rows.append([cells.get(i, "") for i in range(max(cells, default=-1) + 1)])
    return rows


def exported_events():
    return list(AuditEvent.objects.filter(action="export.downloaded").order_by("pk"))


@pytest.fixture
def book():
    return make_book()


def test_the_client_list_exports_as_csv_and_xlsx_with_its_filters_and_an_audit(client, book):
    officer = make_staff("finance_officer", email="fo@exp.test")
    login(client, officer)
    Client.objects.filter(user__email="c0@lead.test").update(phone="+442079460000")
    response = client.get("/backoffice/clients/all/", {"country": "GB", "export": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response.streaming  # streamed, not built in memory
    header, *rows = read_csv(response)
    assert header[:5] == ["client_id", "first_name", "last_name", "email", "phone"]
    assert [r[header.index("email")] for r in rows] == ["c0@lead.test"]
    assert rows[0][header.index("phone")] == "'+442079460000"  # text, never a formula
    event = exported_events()[-1]
    assert event.actor_id == officer.pk
    assert event.evidence["export"] == "clients" and event.evidence["format"] == "csv"
    assert event.evidence["filters"] == {"country": "GB"}
    assert event.evidence["rows"] == 1 and event.evidence["complete"] is True

    response = client.get("/backoffice/clients/all/", {"export": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert response["Content-Disposition"].endswith('.xlsx"')
    header, *rows = read_xlsx(body_of(response))
    assert header[0] == "client_id" and len(rows) == 3
    assert all(isinstance(r[0], Decimal) for r in rows)  # ids stay numbers
    assert sorted(r[header.index("email")] for r in rows) == [f"c{n}@lead.test" for n in range(3)]
    assert exported_events()[-1].evidence.items() >= {"rows": 3, "format": "xlsx"}.items()


def test_an_executive_exports_figures_and_ids_but_no_personal_data(client, book):
    login(client, make_staff("executive", email="boss@exp.test"))
    agent = make_staff("sales_agent", email="agent.smith@exp.test", desk=book["london"])
    Lead.objects.create(
        first_name="Lena", last_name="Lead", email="lena@exp.test", channel="api",
        country="GB", desk=book["london"], assigned_to=agent,
    )  # fmt: skip
    rollups_refresh()
    for fmt in ("csv", "xlsx"):
        response = client.get("/backoffice/clients/all/", {"export": fmt})
        assert response.status_code == 200
        raw = body_of(response)
        rows = list(csv.reader(io.StringIO(raw.decode()))) if fmt == "csv" else read_xlsx(raw)
        assert not set(PERSONAL) & set(rows[0]) and "account_manager_id" in rows[0]
        assert len(rows) == 4 and "client_id" in rows[0]
        text = raw.decode() if fmt == "csv" else str(rows)
        assert "@lead.test" not in text
        assert exported_events()[-1].evidence["figures_only"] is True

        # The leadership table of agents: the agent's id, never their name.
        response = client.get("/backoffice/", {"export": fmt, "table": "funnel-by-agent"})
        assert response.status_code == 200, body_of(response)
        rows = read_csv(response) if fmt == "csv" else read_xlsx(body_of(response))
        assert rows[0][0] == "Agent id" and "Agent" not in rows[0]
        assert [str(r[0]) for r in rows[1:]] == [str(agent.pk)]
        assert "Smith" not in str(rows) and "agent.smith" not in str(rows)

        # A team dashboard's table, the same way: the sales leaderboard.
        response = client.get(
            "/backoffice/dashboards/sales/", {"export": fmt, "table": "sales-leaderboard"}
        )
        assert response.status_code == 200, body_of(response)
        rows = read_csv(response) if fmt == "csv" else read_xlsx(body_of(response))
        assert rows[0][:2] == ["Agent id", "Leads"] and [str(c) for c in rows[1][:2]] == [
            str(agent.pk),
            "1",
        ]
        assert exported_events()[-1].evidence["export"] == "sales.sales-leaderboard"


def test_a_desk_manager_exports_a_leadership_table_of_their_desks_with_names(client, book):
    manager = make_staff("desk_manager", email="dm@exp.test", desk=book["london"])
    Desk.objects.filter(pk=book["london"].pk).update(manager=manager)
    login(client, manager)
    page = client.get("/backoffice/")
    assert b"table=money-by-psp&amp;export=xlsx" in page.content  # each table's links
    response = client.get("/backoffice/", {"export": "csv", "table": "money-by-psp"})
    header, *rows = read_csv(response)
    assert header[:2] == ["PSP", "FTDs"]
    assert rows == [["Stripe (cards)", "2", "201.00", "0.00", "0", "201.00"]]  # London's two
    assert exported_events()[-1].evidence["export"] == "leadership.money-by-psp"


@pytest.mark.parametrize(
    ("path", "params", "status", "says"),
    [
        ("/backoffice/clients/all/", {"export": "pdf"}, 400, b"CSV or XLSX"),
        ("/backoffice/", {"export": "csv", "table": "nope"}, 404, b"money-by-psp"),
        ("/backoffice/", {"export": "csv", "table": "money-by-psp", "start": "x"}, 400, b"start"),
        ("/backoffice/finance/fx.csv", {"start": "nope"}, 400, b"start"),
    ],
)
def test_a_bad_export_is_refused_with_its_reason_and_not_audited(
    client, book, path, params, status, says
):
    login(client, make_staff("executive" if path == "/backoffice/" else "finance_officer"))
    response = client.get(path, params)
    assert response.status_code == status and says in body_of(response)
    assert exported_events() == []


def test_exports_are_scoped_as_their_lists(client, book):
    """A desk manager's client export holds their desk's clients; an agent cannot export
    another desk's leads, nor an executive the finance lists."""
    manager = make_staff("desk_manager", email="dm@exp.test", desk=book["london"])
    Desk.objects.filter(pk=book["london"].pk).update(manager=manager)
    login(client, manager)
    rows = read_csv(client.get("/backoffice/clients/", {"export": "csv"}))
    assert sorted(r[3] for r in rows[1:]) == ["c0@lead.test", "c1@lead.test"]
    client.logout()
    login(client, make_staff("executive", email="boss@exp.test"))
    for path in ("/backoffice/finance/deposits/", "/backoffice/leads/all/"):
        assert client.get(path, {"export": "csv"}).status_code == 403


def test_the_deals_behind_the_figures_export_without_names_for_an_executive(client, book):
    from tests.clients.factories import make_account, make_deal

    account = make_account(Client.objects.get(user__email="c0@lead.test"))
    deal = make_deal(account, volume=25_000)
    login(client, make_staff("executive", email="boss@exp.test"))
    header, *rows = read_csv(client.get("/backoffice/clients/deals/", {"export": "csv"}))
    assert "client_name" not in header and header[:3] == ["deal_id", "ticket", "client_id"]
    assert [(r[0], r[header.index("volume_lots")]) for r in rows] == [(str(deal.pk), "2.5")]


def test_the_finance_lists_export_their_rows(client, book):
    login(client, make_staff("finance_officer", email="fo@exp.test"))
    header, *rows = read_csv(client.get("/backoffice/finance/deposits/", {"export": "csv"}))
    assert header[:3] == ["deposit_id", "reference", "client_id"]
    assert sorted(Decimal(r[header.index("amount")]) for r in rows) == [
        Decimal("100.00"),
        Decimal("101.00"),
        Decimal("102.00"),
    ]
    assert {r[header.index("status")] for r in rows} == {"Completed"}  # labels, not codes
    header, *rows = read_xlsx(
        body_of(client.get("/backoffice/finance/withdrawals/", {"status": "", "export": "xlsx"}))
    )
    assert header[0] == "withdrawal_id" and rows == []
    rows = read_xlsx(body_of(client.get("/backoffice/finance/transactions/?export=xlsx")))
    assert rows[0][0] == "posted_at_utc" and len(rows) == 1 + 2 * 3


def test_a_csv_export_streams_its_rows_as_they_are_read_and_counts_what_was_sent(rf_user):
    request, taken = rf_user, []

    def rows():
        for n in range(10_000):
            taken.append(n)
            yield n

    export = Export(
        "test.stream", "Stream", [Column("n"), Column("twice", lambda n: 2 * n)], rows()
    )
    response = export_response(request, export, "csv")
    chunks = iter(response.streaming_content)
    assert next(chunks) == b"n,twice\r\n" and next(chunks) == b"0,0\r\n"
    assert len(taken) == 1  # one row read for one row sent
    next(chunks)
    request_finished.disconnect(close_old_connections)  # as the test client does
    try:
        response.close()  # the download stops early
    finally:
        request_finished.connect(close_old_connections)
    event = exported_events()[-1]
    assert event.evidence["rows"] == 2 and event.evidence["complete"] is False


def test_an_xlsx_export_is_written_in_constant_memory(rf_user):
    """50,000 rows x 6 columns: XlsxWriter's constant_memory mode keeps one row in memory."""
    columns = [Column(f"c{i}", lambda n, i=i: n * i if i % 2 else f"text {n}") for i in range(6)]
    export = Export("test.big", "Big", columns, iter(range(50_000)))
    tracemalloc.start()
    try:
        response = export_response(rf_user, export, "xlsx")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    data = b"".join(response.streaming_content)
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
    assert len(data) > 500_000  # the rows are in the file, not in memory
    assert exported_events()[-1].evidence["rows"] == 50_000


@pytest.fixture
def rf_user():
    request = RequestFactory().get("/backoffice/x/")
    request.user = make_staff("finance_officer", email="rf@exp.test")
    return request
