"""What finance adds to the kernel's hooks (brokerage.hooks): its reasons in a client's
standing."""

from brokerage.hooks import CLIENT_STANDING, contribute

from .selectors import finance_standing

contribute(CLIENT_STANDING, finance_standing)
