"""Who is a human: every user that is not a service account. Patterns are shell globs (`app_*`)."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

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
        if user is None or user == UNKNOWN_USER:
            return None
        for pattern in self.patterns:
            if fnmatchcase(user, pattern):
                return pattern
        return None

    def is_human(self, user: str | None) -> bool:
        return self.matches(user) is None
