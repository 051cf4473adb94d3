"""Print the current TOTP code for a secret (the demo's by default): `python -m brokerage.totp`.

RFC 6238 with allauth's defaults (SHA-1, 6 digits, 30 s), standard library only, so it runs
without Django settings.
"""

import base64
import hashlib
import hmac
import os
import struct
import sys
import time

DEFAULT_DEMO_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def totp_code(secret: str, at: float | None = None, period: int = 30, digits: int = 6) -> str:
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = int((time.time() if at is None else at) // period)
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10**digits:0{digits}d}"


if __name__ == "__main__":
    secret = (
        sys.argv[1]
        if len(sys.argv) > 1
        else os.environ.get("DEMO_TOTP_SECRET", DEFAULT_DEMO_SECRET)
    )
    print(totp_code(secret))
