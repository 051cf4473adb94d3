from django import template

from finance.psp import PSP_NAMES

register = template.Library()


@register.filter
def psp_name(code: str) -> str:
    """`coinpayments` -> `CoinPayments (crypto)`."""
    return PSP_NAMES.get(code, code)
