"""Clients' parts of the compliance dossier (`dossier.sections`): who the client is and how
that changed, their trading accounts and every deal in UTC with its platform ticket, what they
were sent and told, their support tickets, their sign-ins and failed attempts, and which staff
opened their data. One query per table."""

import datetime as dt

from brokerage.dossier import DossierSection, table
from brokerage.intl import country_name, language_choices

from .models import (
    AccessRecord,
    CategoryRequest,
    Client,
    ClientActivity,
    Deal,
    PersonalDataView,
    PlatformRestraint,
    SupportTicket,
    TicketMessage,
    TradingAccount,
)


def profile_section(client) -> DossierSection:
    user = client.user
    facts = [
        ("Client number", str(client.pk)),
        ("Name", user.get_full_name() or "—"),
        ("Legal name", client.legal_name or "—"),
        ("Email", user.email),
        ("Phone", client.phone or "—"),
        ("Country of residence", country_name(client.country) if client.country else "—"),
        ("Nationality", country_name(client.nationality) if client.nationality else "—"),
        ("Language", dict(language_choices()).get(client.language, client.language)),
        ("Status", client.get_status_display()),
        ("Category", client.get_category_display()),
        ("KYC level", str(client.kyc_level)),
        ("Risk rating", client.get_risk_rating_display() if client.risk_rating else "not rated"),
        ("Registered (UTC)", f"{client.created_at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}"),
    ]
    history = Client.history.filter(id=client.pk).order_by("history_date", "history_id")
    return DossierSection(
        key="client",
        title="The client",
        order=10,
        facts=facts,
        tables=[
            table(
                "client_history",
                "Changes to the client record",
                history,
                [
                    ("When (UTC)", "history_date"),
                    ("Change", "history_type"),
                    ("By", "history_user__email"),
                    ("Country", "country"),
                    ("Nationality", "nationality"),
                    ("Phone", "phone"),
                    ("Status", "status"),
                    ("Category", "category"),
                    ("KYC level", "kyc_level"),
                    ("Restricted", "restricted"),
                    ("AML case", "aml_case_open"),
                    ("Risk", "risk_rating"),
                ],
            ),
            table(
                "category_requests",
                "Client category requests",
                CategoryRequest.objects.filter(client=client).order_by("requested_at"),
                [
                    ("Requested (UTC)", "requested_at"),
                    ("Category", "category"),
                    ("Status", "status"),
                    ("Decided by", "decided_by__email"),
                    ("Decided (UTC)", "decided_at"),
                    ("Reason", "decision_reason"),
                ],
            ),
        ],
    )


def trading_section(client) -> DossierSection:
    accounts = TradingAccount.objects.filter(client=client).order_by("opened_at")
    return DossierSection(
        key="trading",
        title="Trading accounts and deals",
        order=40,
        tables=[
            table(
                "trading_accounts",
                "Trading accounts",
                accounts,
                [
                    ("Login", "login"),
                    ("Server", "server__name"),
                    ("Account type", "account_type__name"),
                    ("Currency", "currency"),
                    ("Leverage", "leverage"),
                    ("Status", "status"),
                    ("Opened (UTC)", "opened_at"),
                ],
            ),
            table(
                "deals",
                "Deals as the platform reported them (UTC)",
                Deal.objects.filter(client=client).order_by("time", "id"),
                [
                    ("Time (UTC)", "time"),
                    ("Platform ticket", "ticket"),
                    ("Account", "account__login"),
                    ("Action", "action"),
                    ("Entry", "entry"),
                    ("Symbol", "symbol"),
                    ("Volume (1/10000 lot)", "volume"),
                    ("Price", "price"),
                    ("Profit", "profit_amount"),
                    ("Swap", "swap_amount"),
                    ("Commission", "commission_amount"),
                    ("Position", "position_id"),
                    ("Revision", "revision"),
                    ("Removed (UTC)", "removed_at"),
                ],
            ),
            table(
                "platform_restraints",
                "Restrictions set on the platform",
                PlatformRestraint.objects.filter(account__client=client).order_by("id"),
                [
                    ("Account", "account__login"),
                    ("Trading disabled", "trading_disabled"),
                    ("Moved to close-only group", "moved_to_group"),
                    ("Group before", "group_before"),
                    ("Leverage cap", "leverage_cap"),
                    ("Leverage before", "leverage_before"),
                    ("Reasons", "reasons"),
                    ("Reconciled (UTC)", "reconciled_at"),
                ],
            ),
        ],
    )


def communications_section(client) -> DossierSection:
    return DossierSection(
        key="communications",
        title="Communications and support tickets",
        order=70,
        tables=[
            table(
                "communications",
                "Emails, notes and calls",
                ClientActivity.objects.filter(client=client).order_by("created_at", "id"),
                [
                    ("When (UTC)", "created_at"),
                    ("Kind", "kind"),
                    ("By", "actor_label"),
                    ("Subject", "subject"),
                    ("Body", "body"),
                    ("Sent (UTC)", "sent_at"),
                ],
            ),
            table(
                "tickets",
                "Support tickets",
                SupportTicket.objects.filter(client=client).order_by("created_at"),
                [
                    ("Opened (UTC)", "created_at"),
                    ("Ticket", "id"),
                    ("Subject", "subject"),
                    ("Category", "category"),
                    ("Status", "status"),
                    ("Closed (UTC)", "closed_at"),
                ],
            ),
            table(
                "ticket_messages",
                "Ticket messages",
                TicketMessage.objects.filter(ticket__client=client).order_by("created_at", "id"),
                [
                    ("When (UTC)", "created_at"),
                    ("Ticket", "ticket_id"),
                    ("From staff", "from_staff"),
                    ("By", "author__email"),
                    ("Message", "body"),
                ],
            ),
        ],
    )


def access_section(client) -> DossierSection:
    return DossierSection(
        key="access",
        title="Sign-ins and staff views of the client's data",
        order=90,
        tables=[
            table(
                "signins",
                "Sign-ups, sign-ins and failed attempts",
                AccessRecord.objects.filter(user_id=client.user_id).order_by("at", "id"),
                [
                    ("When (UTC)", "at"),
                    ("What", "kind"),
                    ("IP address", "ip"),
                    ("Browser", "user_agent"),
                    ("Device", "device_id"),
                ],
            ),
            table(
                "staff_views",
                "Staff who opened the client's personal data",
                PersonalDataView.objects.filter(client=client).order_by("at", "id"),
                [
                    ("When (UTC)", "at"),
                    ("Staff member", "user__email"),
                    ("What", "what"),
                    ("Which", "detail"),
                    ("IP address", "ip"),
                ],
            ),
        ],
    )
