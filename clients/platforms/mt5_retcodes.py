"""MetaQuotes' authentication return codes (MT_RET_AUTH_*, 1000-1023) read by their meaning.

Each code the trading server can answer at `/api/auth/start` or `/api/auth/answer` (or on a
call, when the server drops the session) maps to a stable reason and a message that tells the
operator what to fix. A code the server answers while it is busy or restarting is transient:
the call may succeed later without anyone changing anything, so it is "unavailable", not a
refusal of our credentials.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import PlatformAuthFailed, PlatformError, PlatformUnavailable


@dataclass(frozen=True)
class AuthRefusal:
    reason: str  # stable, for code and logs
    message: str  # what the operator should do
    transient: bool = False


_CERTIFICATE = AuthRefusal(
    "certificate_required",
    "The manager account needs certificate (advanced) authentication, which the Web API cannot "
    "do: allow password authentication for it in the MT5 Administrator.",
)
_SERVER_SETUP = AuthRefusal(
    "server_misconfigured",
    "The trading server's identity (id, address or type) is misconfigured on the platform: the "
    "platform administrator must check the server configuration.",
)

AUTH_REFUSALS: dict[int, AuthRefusal] = {
    1000: AuthRefusal(
        "terminal_type",
        "The trading server does not accept a manager Web API connection from this login: use "
        "a manager account.",
    ),
    1001: AuthRefusal(
        "bad_credentials",
        "The trading server refused the manager login or password: check both in the trading "
        "server's settings.",
    ),
    1002: AuthRefusal(
        "account_disabled",
        "The manager account is disabled on the trading server: ask the platform administrator "
        "to enable it.",
    ),
    1003: _CERTIFICATE,
    1004: _CERTIFICATE,
    1005: _CERTIFICATE,
    1006: _CERTIFICATE,
    1007: AuthRefusal(
        "not_access_server",
        "The trading server URL points at a server that is not an access server: use the "
        "access server's address.",
    ),
    1008: AuthRefusal(
        "server_not_authenticated",
        "The trading server could not authenticate itself to the platform: the platform "
        "administrator must check its certificate and configuration.",
    ),
    1009: AuthRefusal(
        "update_only",
        "The trading server only serves updates at the moment (it is being updated): try "
        "again later.",
        transient=True,
    ),
    1010: AuthRefusal(
        "client_version_old",
        "The trading server finds our Web API version too old: raise the version sent at "
        "login to the platform's build.",
    ),
    1011: AuthRefusal(
        "no_manager_config",
        "The login has no manager configuration on the trading server: create one for it in "
        "the MT5 Administrator.",
    ),
    1012: AuthRefusal(
        "ip_not_allowed",
        "The trading server does not accept the manager from our IP address: add it to the "
        "manager's allowed addresses.",
    ),
    1013: AuthRefusal(
        "group_not_initialized",
        "The manager's group is not initialised on the trading server (it needs a restart): "
        "ask the platform administrator.",
    ),
    1014: _CERTIFICATE,
    1015: _SERVER_SETUP,
    1016: _SERVER_SETUP,
    1017: _SERVER_SETUP,
    1018: AuthRefusal(
        "server_busy", "The trading server is busy: try again in a moment.", transient=True
    ),
    1019: _SERVER_SETUP,
    1020: AuthRefusal(
        "unknown_account",
        "The manager login does not exist on the trading server: check the manager login.",
    ),
    1021: AuthRefusal(
        "server_version_old",
        "The trading server's version is too old for the Web API: the platform must be updated.",
    ),
    1022: AuthRefusal(
        "too_many_connections",
        "The trading server's licence allows no more connections right now (too many "
        "connections): close other Web API sessions or extend the licence.",
        transient=True,
    ),
    1023: AuthRefusal(
        "connection_not_licensed",
        "The trading server's licence does not allow this kind of connection: check the "
        "platform licence.",
    ),
}
AUTH_RANGE = range(1000, 2000)  # MetaQuotes' authentication group


def auth_refused(code: int, text: str, *, login: str) -> PlatformError:
    """The error for authentication retcode `code`: PlatformUnavailable when it is transient,
    else PlatformAuthFailed carrying the reason."""
    refusal = AUTH_REFUSALS.get(code)
    if refusal is None:
        refusal = AuthRefusal(
            "auth_refused",
            f"The trading server refused the manager login ({text or 'no description'}).",
        )
    message = f"{refusal.message} (manager {login}: MT5 retcode {code} {text})".strip()
    if refusal.transient:
        return PlatformUnavailable(message)
    error = PlatformAuthFailed(message)
    error.reason, error.retcode = refusal.reason, code
    return error
