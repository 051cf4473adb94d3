"""Properties of the rates by tier, for random trees and plans: the levels of one deal never
sum above the top rate, nobody earns a negative amount, and a partner earns at most once."""

from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from ib.world import Timeline, World, earnings

T0 = datetime(2026, 1, 1, tzinfo=UTC)
rates = st.one_of(st.none(), st.decimals(min_value=0, max_value=50, places=2))


def world_of(chain_rates, tiers, percent):
    """A chain 0 (client's IB) -> 1 -> ... -> top; partner i has plan i with version i whose
    per-lot default rate is chain_rates[i] (None: no plan of its own)."""
    n = len(chain_rates)
    parents = {i: Timeline([T0], [i + 1 if i + 1 < n else None]) for i in range(n)}
    plans = {i: Timeline([T0], [i]) for i, r in enumerate(chain_rates) if r is not None}
    versions = {i: Timeline([T0], [i]) for i in plans}
    info = {i: SimpleNamespace(number=1, tiers=tiers, tier_percent=percent) for i in plans}
    rules = {i: {("per_lot", "d", "", 0, "", 0): (100 + i, chain_rates[i])} for i in plans}
    return World(parents, plans, versions, rules, info, {}, [T0])


@given(
    chain=st.lists(rates, min_size=1, max_size=8),
    tiers=st.sampled_from(["difference", "percent"]),
    percent=st.decimals(min_value=0, max_value=100, places=2),
)
def test_levels_never_sum_above_the_top_rate(chain, tiers, percent):
    world = world_of(chain, tiers, percent)
    version, kind, earned = earnings(world, 0, "EURUSD", T0)
    top = next((r for r in reversed(chain) if r is not None), None)
    if top is None:
        assert version is None and earned == []
        return
    assert all(e.rate > 0 for e in earned)
    assert len({e.partner for e in earned}) == len(earned)
    top_rate = top  # the highest level with a plan prices the deal
    assert sum((e.rate for e in earned), Decimal(0)) <= top_rate
    if tiers == "difference" and earned:
        # by difference the levels pay exactly the capped rate of the highest level with one
        assert sum(e.rate for e in earned) == min(
            top_rate,
            max(
                min([r for r in chain[i:] if r is not None] + [top_rate])
                for i, r in enumerate(chain)
                if r is not None
            ),
        )
