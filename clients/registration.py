"""Who may register: residents of a country under a blocked jurisdiction rule may not (the
portal's sign-up form says so on the country field, and `client_register` refuses them too),
the refusal naming the rule. The same holds for an IB partner's account holder (its sign-up,
an invitation accepted, a partner added by staff, an application approved)."""

from brokerage.country_rules import country_rules_for, strictest
from brokerage.errors import NotAllowed
from brokerage.models import CountryRule


class RegistrationNotAllowed(NotAllowed):
    """Registration is refused."""

    code = "jurisdiction_blocked"


def registration_blocked(country: str):
    """The blocked rule on `country` (residence) in force now, or None."""
    return strictest(country_rules_for(residence=country), CountryRule.Kind.BLOCKED)


def registration_check(country: str, *, partner: bool = False) -> None:
    """Refuse, naming the rule, a client (or, `partner`, an IB partner) living in `country`
    while a blocked rule is in force on it."""
    blocked = registration_blocked(country)
    if blocked is not None:
        what = "a partner account" if partner else "an account"
        raise RegistrationNotAllowed(
            f"We cannot open {what} for you: {blocked.message}",
            fields={"country": [blocked.message]},
        )
