"""Who is a human: every user that is not a service account. Patterns are shell globs (`app_*`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

BUILTIN_SERVICE_ACCOUNTS: tuple[str, ...] = ("rdsadmin",)
"""Aurora's and RDS's own maintenance user: its statements are the platform's, not a person's."""

UNKNOWN_USER = "?"
"""The user of a record no entry names. It is treated as a human's: a security monitor fails closed."""


@dataclass(frozen=True)
class ServiceAccounts:
    """The users whose DML is expected. Matching is exact and case-sensitive, as PostgreSQL role names are.

    Every record of a log asks (the readers, the assembler and the judge), and a log has few users: each answer is
    kept, here and only here (up to 4,096 users, then they are asked again).
    """

    patterns: tuple[str, ...] = BUILTIN_SERVICE_ACCOUNTS
    _answers: dict[str | None, str | None] = field(default_factory=dict, init=False, repr=False, compare=False)

    def matches(self, user: str | None) -> str | None:
        """The pattern that makes `user` a service account, or None when the user is (or may be) a human."""
        answer = self._answers.get(user, _UNASKED)
        if answer is _UNASKED:
            if len(self._answers) >= _MAX_ANSWERS:
                self._answers.clear()
            answer = self._answers[user] = _first_match(self.patterns, user)
        return answer  # type: ignore[return-value]

    def is_human(self, user: str | None) -> bool:
        return self.matches(user) is None


_UNASKED = object()
_MAX_ANSWERS = 4096


def _first_match(patterns: tuple[str, ...], user: str | None) -> str | None:
    if user is None or user == UNKNOWN_USER:
        return None
    for pattern in patterns:
        if fnmatchcase(user, pattern):
            return pattern
    return None


def glob_regex(pattern: str) -> str:
    """A shell glob as a regular expression (`*`, `?` and `[...]`, as fnmatch reads them), for the readers that
    cannot run Python: the Logs Insights query excludes service accounts with it (`/` escaped for its delimiters)."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[" and (close := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : close]
            body = "^" + body[1:] if body.startswith("!") else body
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = close
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out).replace("/", r"\/")
