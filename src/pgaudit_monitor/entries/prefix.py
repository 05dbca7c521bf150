"""Turn a `log_line_prefix` into a regular expression that splits a stderr log line into its fields.

PostgreSQL writes `log_line_prefix`, then the severity, a colon and two spaces, then the message. The prefix is
compiled once per distinct setting; every escape PostgreSQL documents is understood, including padding
(`%-10u`) and `%q`, after which non-session processes (the checkpointer, the autovacuum launcher) write nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# Named constants for the prefixes the field meets most, shared by the code and the tests.
AURORA_PREFIX = "%t:%r:%u@%d:[%p]:"
"""Aurora and RDS for PostgreSQL: fixed, not changeable in the parameter group."""
POSTGRES_DEFAULT_PREFIX = "%m [%p] "
"""PostgreSQL's own default since version 10: no user, so users come from `connection authorized` entries."""
DEBIAN_PREFIX = "%m [%p] %q%u@%d "
"""Debian and Ubuntu packages' postgresql.conf."""

_TIMESTAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?: [^\s:]+)?"
_TIMESTAMP_MS = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}(?: [^\s:]+)?"

# escape -> (field name or None, pattern). Free-text fields are lazy so that the literal text after them
# (":" in Aurora's prefix, "@" between user and database) decides where they end.
_ESCAPES: dict[str, tuple[str | None, str]] = {
    "a": ("application_name", r".*?"),
    "u": ("user", r".*?"),
    "d": ("database", r".*?"),
    "r": ("remote", r"\[local\]|[^\s()]*\(\d+\)|"),
    "h": ("remote_host", r"\[local\]|[^\s()]*?"),
    "b": ("backend_type", r".*?"),
    "p": ("pid", r"\d+"),
    "P": (None, r"\d*"),
    "t": ("time", _TIMESTAMP),
    "m": ("time", _TIMESTAMP_MS),
    "n": ("epoch", r"\d+\.\d{3}"),
    "i": ("command_tag", r".*?"),
    "e": ("sqlstate", r"[0-9A-Z]{5}"),
    "c": ("session_id", r"[0-9a-f]+\.[0-9a-f]+"),
    "l": ("session_line", r"\d+"),
    "s": ("session_start", _TIMESTAMP),
    "v": ("vxid", r"-?\d*/-?\d*|"),
    "x": ("xid", r"\d+"),
    "Q": ("query_id", r"-?\d+"),
}
_ESCAPE_RE = re.compile(r"%(-?\d+)?(.)")
# The severity, as PostgreSQL writes it after the prefix. Non-English lc_messages translate it, so any word
# (in the bytes pattern, a UTF-8 letter is any byte above 0x7f).
_SEVERITY = r"(?P<level>\w+):  "
_SEVERITY_BYTES = rb"(?P<level>(?:\w|[\x80-\xff])+):  "


class PrefixError(ValueError):
    """A log_line_prefix the compiler does not understand."""


@dataclass(frozen=True)
class CompiledPrefix:
    """A log_line_prefix ready to split lines. `fields` lists the LogEntry fields it can fill."""

    text: str
    regex: re.Pattern[str]
    fields: frozenset[str]
    head: re.Pattern[bytes]
    """The prefix and severity on the raw bytes of an entry's first line, up to where the message starts: what
    a reader matches before it decodes anything (stderr readers drop service accounts' records this way)."""

    @property
    def has_user(self) -> bool:
        return "user" in self.fields


def _group(name: str | None, pattern: str, seen: set[str], padded: bool) -> str:
    pad = r" *" if padded else ""
    if name is None or name in seen:
        return f"{pad}(?:{pattern}){pad}"
    seen.add(name)
    return f"{pad}(?P<{name}>{pattern}){pad}"


@lru_cache(maxsize=32)
def compile_prefix(prefix: str) -> CompiledPrefix:
    """Compile `prefix` (the literal log_line_prefix setting) into a line-splitting regex.

    Raises PrefixError for an escape PostgreSQL does not know, so that a typo in --log-line-prefix is a clear
    error instead of a monitor that silently matches nothing.
    """
    parts: list[str] = []
    optional_from: int | None = None
    seen: set[str] = set()
    pos = 0
    for match in _ESCAPE_RE.finditer(prefix):
        parts.append(re.escape(prefix[pos : match.start()]))
        pos = match.end()
        padding, escape = match.group(1), match.group(2)
        if escape == "%":
            parts.append("%")
        elif escape == "q":
            optional_from = len(parts)
        elif escape in _ESCAPES:
            name, pattern = _ESCAPES[escape]
            if escape == "d" and prefix[: match.start()].endswith("@"):
                # `%u@%d`: role names may hold an `@` (e-mail-style cloud identities), database names rarely do;
                # the database stops at no `@`, so the user takes all but the last one.
                pattern = r"[^@]*?"
            parts.append(_group(name, pattern, seen, padded=padding is not None))
        else:
            raise PrefixError(f"log_line_prefix {prefix!r}: unknown escape %{escape}")
    if prefix.endswith("%") and (pos < len(prefix)):
        raise PrefixError(f"log_line_prefix {prefix!r}: ends with a lone %")
    parts.append(re.escape(prefix[pos:]))
    if optional_from is not None:
        # Lazy: a line that reads as complete without the session part (a background process's) is taken so,
        # so that the free-text session fields can never reach into the message.
        parts[optional_from:] = ["(?:" + "".join(parts[optional_from:]) + ")??"]
    regex = re.compile("".join(parts) + _SEVERITY + r"(?P<message>.*)\Z", re.DOTALL)
    # The same prefix on bytes, without the message; no DOTALL, so it never reaches past the first line.
    head = re.compile("".join(parts).encode("utf-8", "surrogatepass") + _SEVERITY_BYTES)
    return CompiledPrefix(prefix, regex, frozenset(seen), head)
