"""Who is a human: every user that is not a service account. Patterns are shell globs (`app_*`)."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache

BUILTIN_SERVICE_ACCOUNTS: tuple[str, ...] = ("rdsadmin",)
"""Aurora's and RDS's own maintenance user: its statements are the platform's, not a person's."""

UNKNOWN_USER = "?"
"""The user of a record no entry names. It is treated as a human's: a security monitor fails closed."""


@dataclass(frozen=True)
class ServiceAccounts:
    """The users whose DML is expected. Matching is exact and case-sensitive, as PostgreSQL role names are."""

    patterns: tuple[str, ...] = BUILTIN_SERVICE_ACCOUNTS

    def matches(self, user: str | None) -> str | None:
        """The pattern that makes `user` a service account, or None when the user is (or may be) a human."""
        return _first_match(self.patterns, user)

    def is_human(self, user: str | None) -> bool:
        return _first_match(self.patterns, user) is None


@lru_cache(maxsize=4096)
def _first_match(patterns: tuple[str, ...], user: str | None) -> str | None:
    # Cached: a log has few users and every one of its records asks (readers, the assembler and the judge).
    if user is None or user == UNKNOWN_USER:
        return None
    for pattern in patterns:
        if fnmatchcase(user, pattern):
            return pattern
    return None
