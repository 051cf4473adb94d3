"""What kyc adds to the kernel's hooks (brokerage.hooks): its reasons in a client's standing."""

from brokerage.hooks import CLIENT_STANDING, contribute

from .selectors import kyc_standing

contribute(CLIENT_STANDING, kyc_standing)
