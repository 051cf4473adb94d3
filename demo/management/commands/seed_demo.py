"""Demo data: one staff user per role, three desks with agents, a client, IB partners, an API key,
and a month of finance activity (demo.finance), a trading book (demo.trading) and today's
retention run.

Idempotent: running it again changes nothing. Nothing here exists unless this command is run.
Passwords, the TOTP secret and the API key come from DEMO_PASSWORD, DEMO_TOTP_SECRET and
DEMO_API_KEY (documented defaults in .env.example).
"""

import binascii

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from allauth.mfa.utils import decrypt
from cryptography.fernet import InvalidToken
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from brokerage import audit_events as brokerage_events
from brokerage.models import ApiKey, Desk, User
from brokerage.roles import ROLES
from brokerage.rollups import rollups_rebuild
from brokerage.services import api_key_create, audit_record, staff_user_upsert
from brokerage.totp import totp_code
from clients.retention.services import retention_flags_run
from clients.services import client_register
from demo.book import install_book_year, install_first_night
from demo.book_ib import install_book_ib
from demo.categories import install_demo_categories
from demo.compliance import install_demo_compliance
from demo.finance import install_demo_finance
from demo.ib import deal_correct_once, install_demo_ib
from demo.ib_onboarding import install_demo_onboarding
from demo.jurisdictions import install_demo_jurisdictions
from demo.kyc import install_demo_kyc
from demo.leads import install_demo_leads, install_demo_rules
from demo.psp_history import psp_history_send
from demo.risk import install_demo_risk
from demo.terms import install_terms_accepted
from demo.trading import install_demo_trading
from demo.wires import install_demo_wires
from ib.services import partner_create

ACTOR = "system:seed_demo"

DESKS = [
    ("Dubai", ["ar", "en"]),
    ("London", ["en"]),
    ("Global", ["en", "es", "ru"]),
]

# Extra desk agents beside the one-per-role users: (email, first, last, desk, languages).
AGENTS = [
    ("dubai.agent1@demo.test", "Omar", "Haddad", "Dubai", ["ar", "en"]),
    ("dubai.agent2@demo.test", "Layla", "Nasser", "Dubai", ["ar", "en"]),
    ("london.agent1@demo.test", "Oliver", "Bennett", "London", ["en"]),
    ("london.agent2@demo.test", "Amelia", "Clarke", "London", ["en"]),
    ("global.agent1@demo.test", "Lucia", "Moreno", "Global", ["es", "en"]),
    ("global.agent2@demo.test", "Ivan", "Petrov", "Global", ["ru", "en"]),
]

ROLE_DESKS = {
    "sales_agent": "Global",
    "senior_account_manager": "London",
    "retention_agent": "London",
    "desk_manager": "Dubai",
}


def install_demo_retention() -> dict:
    """Today's retention run, so the queue shows the quiet and losing clients at once."""
    return retention_flags_run(actor=ACTOR)


def demo_email(role: str) -> str:
    return f"{role}@demo.test"


class Command(BaseCommand):
    help = "Install the demo data set (idempotent)."

    def check_settings(self):
        problems = []
        if len(settings.DEMO_PASSWORD) < 10:
            problems.append("DEMO_PASSWORD must be at least 10 characters")
        try:
            totp_code(settings.DEMO_TOTP_SECRET)
        except (ValueError, binascii.Error):
            problems.append("DEMO_TOTP_SECRET must be base32 (A-Z, 2-7), e.g. JBSWY3DPEHPK3PXP")
        if len(settings.DEMO_API_KEY) < 24 or not settings.DEMO_API_KEY.isascii():
            problems.append("DEMO_API_KEY must be at least 24 ASCII characters")
        if problems:
            raise CommandError("; ".join(problems) + ". Nothing was written.")

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale",
            choices=["demo", "large"],
            default="demo",
            help="demo: DEMO_BOOK_CLIENTS clients in the trading book (default 2,000); "
            "large: 50,000 clients and about 2,000,000 deals, for the benchmarks.",
        )
        parser.add_argument(
            "--book", type=int, default=None, help="Clients in the trading book (overrides)."
        )

    def handle(self, *args, **options):
        self.check_settings()
        self._install(**options)
        book = options["book"]
        if book is None:
            book = 50_000 if options["scale"] == "large" else settings.DEMO_BOOK_CLIENTS
        # Outside the transaction above: the trading book talks to the trading server and its
        # wallet transfers commit one by one, as in production.
        install_demo_trading(actor=ACTOR, book_clients=book, out=self.stdout.write)
        # The book's year: leads, KYC, declared finances, money through the PSPs and the
        # ledger, and clients planted for each AML typology (a few in the demo, 30 at scale).
        now = timezone.now()
        year = install_book_year(now=now, per_typology=30 if book >= 20_000 else 2)
        if year["clients"]:
            self.stdout.write(
                f"Book: a year for {year['clients']} clients ({year['planted']} planted AML "
                f"cases) in {year['seconds']} s."
            )
        install_demo_retention()
        # The IB network's commissions on the book's deals, and last month's period closed.
        ib = install_demo_ib(actor=ACTOR, password=settings.DEMO_PASSWORD)
        self.stdout.write(
            f"IB: {ib['referred']} clients referred, {ib['lines']} commission lines paid."
        )
        trees = install_book_ib(actor=ACTOR, now=now, book_clients=book)
        if trees["referred"]:
            self.stdout.write(
                f"IB trees: {trees['partners']} partners, {trees['referred']} book clients "
                f"referred, {trees['lines']} commission lines paid."
            )
        # A deal the platform corrected after it was paid: its lines reversed and paid again.
        deal_correct_once(out=self.stdout.write)
        install_demo_onboarding(actor=ACTOR, password=settings.DEMO_PASSWORD)
        # A watch list and a client who is on it: the compliance alert queue is not empty.
        install_demo_compliance(password=settings.DEMO_PASSWORD)
        # A professional client, and a UK retail client whose request waits for compliance.
        install_demo_categories()
        # Clients rated low, medium and high, and a periodic review overdue.
        install_demo_risk(password=settings.DEMO_PASSWORD)
        # Belarus restricted with a client living there; Nigeria's rule starts next month.
        install_demo_jurisdictions(password=settings.DEMO_PASSWORD)
        # The monitoring's first night over the book: the planted clients' alerts wait for the
        # compliance officer (at the large scale the benchmark runs it itself).
        if book < 20_000:
            night = install_first_night(now=now)
            if night:
                alerts = sum(s["alerts"] for s in night["scenarios"].values())
                self.stdout.write(f"AML monitoring: {alerts} alerts from the first night.")
        # Every client accepted the terms in force when they signed up.
        install_terms_accepted()
        # The PSP sandbox keeps its memory in its process: tell it what the providers did.
        psp_history_send(out=self.stdout.write)
        # The leadership figures over all of it (the data above was written in bulk).
        taken = rollups_rebuild()
        self.stdout.write(f"Leadership rollups rebuilt in {sum(taken.values()):.1f} s.")
        self.stdout.write(
            self.style.SUCCESS(
                "Demo data ready: staff, 3 desks, client@demo.test, partner@demo.test and a "
                "trading book. Password: DEMO_PASSWORD; staff TOTP secret: DEMO_TOTP_SECRET."
            )
        )

    @transaction.atomic
    def _install(self, **options):
        password = settings.DEMO_PASSWORD
        desks = {}
        for name, languages in DESKS:
            desk, created = Desk.objects.get_or_create(name=name, defaults={"languages": languages})
            if created:
                audit_record(actor=ACTOR, action=brokerage_events.DESK_CREATED, target=desk)
            desks[name] = desk

        staff = []
        for slug, role in ROLES.items():
            first, _, last = role.label.partition(" ")
            staff.append(
                staff_user_upsert(
                    actor=ACTOR,
                    email=demo_email(slug),
                    role=slug,
                    first_name=first,
                    last_name=last or "Demo",
                    desk=desks.get(ROLE_DESKS.get(slug, "")),
                    password=password,
                )
            )
        for email, first, last, desk, languages in AGENTS:
            staff.append(
                staff_user_upsert(
                    actor=ACTOR,
                    email=email,
                    role="sales_agent",
                    first_name=first,
                    last_name=last,
                    desk=desks[desk],
                    languages=languages,
                    password=password,
                )
            )
        manager = User.objects.get(email=demo_email("desk_manager"))
        for desk in desks.values():
            if desk.manager_id != manager.pk:
                desk.manager = manager
                desk.save(update_fields=["manager"])
                audit_record(
                    actor=ACTOR,
                    action=brokerage_events.DESK_MANAGER_SET,
                    target=desk,
                    evidence={"manager": manager.email},
                )

        for user in staff:
            self._verified(user)
            self._totp(user)

        client_user = self._person("client@demo.test", "Dana", "Trader", password)
        client_register(user=client_user, actor=ACTOR, country="GB", language="en")

        ib_user = self._person("partner@demo.test", "Ian", "Broker", password)
        master = partner_create(
            actor=ACTOR, user=ib_user, company_name="Demo Partners Ltd", referral_code="DEMOIB"
        )
        sub_user = self._person("subpartner@demo.test", "Sara", "Subbroker", password)
        partner_create(
            actor=ACTOR,
            user=sub_user,
            company_name="Demo Sub-IB",
            referral_code="DEMOSUB",
            parent=master,
        )

        self._api_key()
        install_demo_rules()
        install_demo_leads()
        install_demo_kyc(password)
        install_demo_finance(actor=ACTOR)
        install_demo_wires()

    def _person(self, email, first, last, password):
        user, created = User.objects.get_or_create(
            email=email, defaults={"first_name": first, "last_name": last}
        )
        if created or not user.check_password(password):
            user.set_password(password)
            user.save()
        self._verified(user)
        return user

    def _verified(self, user):
        EmailAddress.objects.update_or_create(
            user=user, email=user.email, defaults={"verified": True, "primary": True}
        )

    def _totp(self, user):
        secret = settings.DEMO_TOTP_SECRET
        current = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
        if current is not None and self._stored_secret(current) != secret:
            current.delete()
            current = None
        if current is None:
            TOTP.activate(user, secret)
            audit_record(
                actor=ACTOR,
                action=brokerage_events.MFA_TOTP_ENROLLED,
                target=user,
                reason="demo TOTP secret",
            )
        if not Authenticator.objects.filter(
            user=user, type=Authenticator.Type.RECOVERY_CODES
        ).exists():
            RecoveryCodes.activate(user)

    @staticmethod
    def _stored_secret(authenticator) -> str | None:
        try:
            return decrypt(authenticator.data["secret"])
        except InvalidToken:  # written under another encryption key: enrol again
            return None

    def _api_key(self):
        raw = settings.DEMO_API_KEY
        key = ApiKey.objects.filter(name="Demo landing page").first()
        if key is not None and key.matches(raw):
            return
        if key is not None:
            key.prefix, key.key_hash = raw[: ApiKey.PREFIX_LEN], ApiKey.digest(raw)
            key.is_active = True
            key.save()
            audit_record(actor=ACTOR, action=brokerage_events.API_KEY_ROTATED, target=key)
            return
        api_key_create(actor=ACTOR, name="Demo landing page", scopes=["leads:write"], raw_key=raw)
