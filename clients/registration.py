"""Who may register: residents of a country under a blocked jurisdiction rule may not (the
portal's sign-up form says so on the country field, and `client_register` refuses them too),
the refusal naming the rule."""

from brokerage.country_rules import country_rules_for, strictest
from brokerage.errors import NotAllowed
from brokerage.models import CountryRule


class RegistrationNotAllowed(NotAllowed):
    """Registration is refused."""

    code = "jurisdiction_blocked"


def registration_blocked(country: str):
    """The blocked rule on `country` (residence) in force now, or None."""
    return strictest(country_rules_for(residence=country), CountryRule.Kind.BLOCKED)


def registration_check(country: str) -> None:
    blocked = registration_blocked(country)
    if blocked is not None:
        raise RegistrationNotAllowed(
            f"We cannot open an account for you: {blocked.message}",
            fields={"country": [blocked.message]},
        )
