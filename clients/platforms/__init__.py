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


def symbol_map_for(server) -> SymbolMap:
    from clients.models import Instrument

    canonical = dict(Instrument.objects.values_list("symbol", "aliases"))
    return SymbolMap(canonical, server.symbol_suffixes or [])


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
