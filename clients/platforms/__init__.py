"""Trading platform adapters. `platform_for(server)` gives the adapter for a TradingServer."""

from .base import (  # noqa: F401
    AccountInfo,
    Batch,
    DealRecord,
    PlatformAuthFailed,
    PlatformError,
    PlatformMalformed,
    PlatformOutcomeUnknown,
    PlatformRejected,
    PlatformUnavailable,
    PositionRecord,
    Rejected,
    SymbolMap,
    TradingPlatform,
    strong_password,
)


def symbol_map_for(server=None, *, instruments=None) -> SymbolMap:
    """Server symbols -> canonical ones, by `server`'s suffixes (without a server: every
    server's) and the instruments' aliases (`instruments`, else all of them)."""
    from clients.models import Instrument, TradingServer

    if instruments is None:
        canonical = dict(Instrument.objects.values_list("symbol", "aliases"))
    else:
        canonical = {i.symbol: i.aliases for i in instruments}
    if server is not None:
        suffixes = server.symbol_suffixes or []
    else:
        lists = TradingServer.objects.values_list("symbol_suffixes", flat=True)
        suffixes = sorted({s for each in lists for s in each or ()})
    return SymbolMap(canonical, suffixes)


def platform_for(server, *, timeout: float | None = None) -> TradingPlatform:
    """The adapter for `server`, with its decrypted credentials and its symbol map."""
    from django.conf import settings

    from .mt5 import MT5WebAPI
    from .secrets import password_decrypt

    if server.platform != "mt5":
        raise PlatformError(f"No adapter for platform {server.platform!r}.")
    return MT5WebAPI(
        url=server.url,
        login=server.manager_login,
        password=password_decrypt(server.manager_password),
        timezone=server.timezone,
        symbols=symbol_map_for(server),
        batch_size=server.batch_size,
        max_requests_per_second=server.max_requests_per_second,
        timeout=timeout or settings.PLATFORM_TIMEOUT_SECONDS,
    )
