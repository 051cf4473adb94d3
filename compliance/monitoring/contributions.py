"""What AML monitoring adds to the kernel's hooks: money that moved is evaluated (a
withdrawal in its request, to hold it for review; the rest once committed)."""

from brokerage.hooks import MONEY_MOVED, contribute

from .tasks import money_moved

contribute(MONEY_MOVED, money_moved)
