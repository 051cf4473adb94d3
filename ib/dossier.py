"""IB's part of the compliance dossier (`dossier.sections`): which partner introduced the client
(re-attributions are in the audit trail) and every commission line the client's deals paid,
to whom, at which tier, with its formula."""

from brokerage.dossier import DossierSection, table

from .models import CommissionLine, Referral


def ib_section(client) -> DossierSection:
    return DossierSection(
        key="ib",
        title="Introducing broker and commissions",
        order=50,
        tables=[
            table(
                "referral",
                "Introduced by",
                Referral.objects.filter(client=client),
                [
                    ("Partner", "partner__referral_code"),
                    ("Partner email", "partner__user__email"),
                    ("Code followed", "code"),
                    ("Attributed (UTC)", "attributed_at"),
                ],
            ),
            table(
                "commissions",
                "Commission lines the client's trading paid",
                CommissionLine.objects.filter(client=client).order_by("deal_time", "id"),
                [
                    ("Deal time (UTC)", "deal_time"),
                    ("Deal ticket", "deal__ticket"),
                    ("Partner", "partner__referral_code"),
                    ("Tier", "tier"),
                    ("Kind", "kind"),
                    ("Symbol", "symbol"),
                    ("Volume", "volume"),
                    ("Rate", "rate"),
                    ("Amount", "amount"),
                    ("Currency", "currency"),
                    ("Status", "status"),
                    ("Formula", "formula"),
                ],
            ),
        ],
    )
