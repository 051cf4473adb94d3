"""Demo compliance data: a tiny internal watch list (two fictional entries) and one client
registered under a listed name, screened, so the alert queue has an alert to open; and an AML
case on that client, under investigation with a note, so the case pages have one to show."""

from allauth.account.models import EmailAddress

from brokerage.models import User
from clients.services import client_register
from compliance.cases import case_investigate, case_note_add, case_open
from compliance.models import Alert, Case, ListSource, ScreeningReason, ScreeningRun
from compliance.services import client_screen, snapshot_import

EMAIL = "listed.client@demo.test"
OFFICER = "compliance_officer@demo.test"
LIST_CODE = "demo-watch"
WATCH_CSV = (
    "Ref,Full name,Also known as,Born,Country,Programme,Notes\n"
    "DW-1,Boris Zlobnikov,Boris Ivanovich Zlobnikov,1968-07-21,RU,Arms brokering,"
    "A fictional entry of the demo's internal watch list\n"
    "DW-2,Orlan Trading Kontor,,,,Front company,A fictional company\n"
)
MAPPING = {
    "list_id": "Ref",
    "name": "Full name",
    "aliases": "Also known as",
    "dob": "Born",
    "nationality": "Country",
    "programme": "Programme",
    "remarks": "Notes",
}


def install_demo_compliance(password: str) -> None:
    """Once: the list imported, the listed client registered and screened (outside any other
    transaction: a list import is its own)."""
    if not ListSource.objects.filter(code=LIST_CODE).exists():
        snapshot_import(
            fmt="csv",
            files=[("demo-watch.csv", WATCH_CSV.encode())],
            actor="system:seed_demo",
            list_code=LIST_CODE,
            list_name="Internal watch list (demo)",
            mapping=MAPPING,
        )
    user = User.objects.filter(email=EMAIL).first()
    if user is None:
        user = User.objects.create_user(EMAIL, password, first_name="Boris", last_name="Zlobnikov")
        EmailAddress.objects.create(user=user, email=EMAIL, verified=True, primary=True)
    client = client_register(user=user, actor="system:seed_demo", country="CY")
    if not ScreeningRun.objects.filter(client=client).exists():
        client_screen(client_id=client.pk, reason=ScreeningReason.REGISTRATION)
    officer = User.objects.filter(email=OFFICER).first()
    alert = Alert.objects.filter(client=client).order_by("pk").first()
    if officer and alert and not Case.objects.filter(client=client).exists():
        case = case_open(
            client=client,
            actor=officer,
            summary="The registered name and year of birth meet the watch list's entry DW-1.",
            screening_alerts=[alert],
        )
        case = case_investigate(case=case, actor=officer)
        case_note_add(
            case=case,
            actor=officer,
            text="Asked the client for a passport copy and proof of address.",
        )
