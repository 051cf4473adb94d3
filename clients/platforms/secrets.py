"""Manager passwords of trading servers are stored encrypted (Fernet, key from settings)."""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

PREFIX = "fernet:"


def _fernet() -> Fernet:
    material = settings.PLATFORM_ENCRYPTION_KEY or f"platform:{settings.SECRET_KEY}"
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(material.encode()).digest()))


def password_encrypt(plain: str) -> str:
    if plain.startswith(PREFIX):
        return plain
    return PREFIX + _fernet().encrypt(plain.encode()).decode()


def password_decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        return stored  # written directly (e.g. a fixture); encrypted on the next save in admin
    try:
        return _fernet().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        from .base import PlatformAuthFailed

        raise PlatformAuthFailed(
            "The trading server's stored password cannot be decrypted (was the key changed?)."
        ) from None
