"""How passwords are stored: Argon2id at OWASP's recommended cost.

OWASP's Password Storage Cheat Sheet recommends Argon2id with at least 19 MiB of memory, two
passes and one lane. Django's own Argon2 defaults (100 MiB, eight lanes) spend about as much CPU
as its PBKDF2 default (1,000,000 iterations of SHA-256, ~0.25 s a sign-in on this kind of
machine), which on a two-core web server turns a news spike's sign-ins into queueing for every
other page. This cost takes ~30 ms, and being memory-hard it costs an attacker's GPU more than
PBKDF2's CPU-bound iterations do.

PBKDF2 stays listed after it: a password stored before is still checked, and rewritten as
Argon2id the next time its owner signs in (Django upgrades a hash whose hasher or cost differs
from the first one listed).
"""

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idHasher(Argon2PasswordHasher):
    """Argon2id, 19 MiB, two passes, one lane (OWASP's first recommended configuration)."""

    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
