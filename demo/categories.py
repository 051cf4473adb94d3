"""Demo client categories: a professional client (Sophie Martin, France), approved by the demo's
compliance officer on two of the three criteria with the evidence noted, and a UK retail client
(Oliver Smith) whose request for professional status waits in the queue; their accounts are
capped at 1:30 while they are retail (docs/leverage-limits.md)."""

from brokerage.models import User
from clients.categories import category_request_decide, category_request_submit
from clients.models import CategoryRequest, Client

PROFESSIONAL = "trader02@demo.test"
UK_RETAIL = "trader10@demo.test"
OFFICER = "compliance_officer@demo.test"


def install_demo_categories() -> None:
    """Once: the two requests, one approved."""
    clients = {
        c.user.email: c
        for c in Client.objects.filter(user__email__in=[PROFESSIONAL, UK_RETAIL]).select_related(
            "user"
        )
    }
    officer = User.objects.filter(email=OFFICER).first()
    if len(clients) < 2 or officer is None or CategoryRequest.objects.exists():
        return
    pro = clients[PROFESSIONAL]
    request = category_request_submit(
        client=pro,
        statement=(
            "I have traded FX and index CFDs for six years, about 40 trades a quarter, and I "
            "worked three years on a bank's rates desk. My portfolio is around EUR 700,000."
        ),
        actor=pro.user,
    )
    category_request_decide(
        category_request=request,
        approve=True,
        trades_met=True,
        portfolio_met=True,
        experience_met=True,
        evidence=(
            "Broker statements for the last four quarters (162 trades); custody statement of "
            "EUR 712,400; employer's letter (rates desk, 2019-2022)."
        ),
        reason="",
        actor=officer,
    )
    retail = clients[UK_RETAIL]
    category_request_submit(
        client=retail,
        statement=(
            "I trade every week and would like a higher leverage on my FX trades. I have a "
            "savings account and shares worth about GBP 120,000."
        ),
        actor=retail.user,
    )
