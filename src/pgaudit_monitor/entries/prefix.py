"""Turn a `log_line_prefix` into a regular expression that splits a stderr log line into its fields.

PostgreSQL writes `log_line_prefix`, then the severity, a colon and two spaces, then the message. The prefix is
compiled once per distinct setting; every escape PostgreSQL documents is understood, including padding
(`%-10u`) and `%q`, after which non-session processes (the checkpointer, the autovacuum launcher) write nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pgaudit_monitor.errors import PrefixError

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
    "P": ("leader_pid", r"\d*"),
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
# Escapes that PostgreSQL forks add, read as opaque text (no field of the entry) rather than refused: YugabyteDB's
# %C cloud, %R region, %Z zone, %H host, %U cluster UUID and %N node and cluster name. Lazy, and never past the
# line, like the free-text fields: the literal text after them decides where they end.
_OPAQUE_ESCAPES = frozenset("CRZHUN")
_OPAQUE = r"[^\n]*?"
_ESCAPE_RE = re.compile(r"%(-?\d+)?(.)")
# The severity, as PostgreSQL writes it after the prefix. Non-English lc_messages translate it, so any word
# (in the bytes pattern, a UTF-8 letter is any byte above 0x7f).
# With log_error_verbosity = verbose, the SQLSTATE follows (`LOG:  00000: AUDIT: ...`): it is not part of the
# message, which then reads the same at every verbosity. Every SQLSTATE PostgreSQL assigns holds a digit, which
# keeps a message that starts with a word of five capitals (`AUDIT: `) whole. The str regex skips it; on bytes
# the readers skip it in code (formats.message_start), which costs a record of default verbosity nothing, where
# the optional group in `head` made every match a third dearer.
_SQLSTATE = r"(?:(?=[A-Z]{0,4}[0-9])[0-9A-Z]{5}: )"
SQLSTATE_BYTES = re.compile(_SQLSTATE.encode())
_SEVERITY = r"(?P<level>\w+):  " + _SQLSTATE + "?"
_SEVERITY_BYTES = rb"(?P<level>(?:\w|[\x80-\xff])+):  "
# Fields whose text a client chooses (a role, a database, an application name): written raw, they can hold a
# newline or what looks like the rest of a prefix.
_FREE_TEXT = frozenset("uda")


@dataclass(frozen=True)
class CompiledPrefix:
    """A log_line_prefix ready to split lines. `fields` lists the LogEntry fields it can fill."""

    text: str
    regex: re.Pattern[str]
    fields: frozenset[str]
    head: re.Pattern[bytes]
    """The prefix and severity on the raw bytes of an entry's first line, up to where the message starts (or its
    SQLSTATE, at verbose verbosity): what a reader matches before it decodes anything (stderr readers drop
    service accounts' records this way)."""
    lead: re.Pattern[bytes] | None = None
    """The prefix up to its first client-chosen field (%u, %d, %a): a line it matches starts like an entry. None
    when the prefix has no such field (nothing in it can be forged) or starts with one."""
    tail: re.Pattern[bytes] | None = None
    """The prefix from its last client-chosen field on, the severity and any SQLSTATE: what follows a newline
    that a role (or database, application) name put into the prefix, up to where the message starts."""

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

    Escapes of PostgreSQL forks (YugabyteDB's %C %R %Z %H %U %N) are read as opaque text. Raises PrefixError for
    any other escape PostgreSQL does not know, so that a typo in --log-line-prefix is a clear
    error instead of a monitor that silently matches nothing.
    """
    parts: list[str] = []
    free: list[int] = []  # where the client-chosen fields are in `parts`
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
            if escape in _FREE_TEXT:
                free.append(len(parts))
            parts.append(_group(name, pattern, seen, padded=padding is not None))
        elif escape in _OPAQUE_ESCAPES:
            parts.append(_group(None, _OPAQUE, seen, padded=padding is not None))
        else:
            raise PrefixError(f"log_line_prefix {prefix!r}: unknown escape %{escape}")
    if prefix.endswith("%") and (pos < len(prefix)):
        raise PrefixError(f"log_line_prefix {prefix!r}: ends with a lone %")
    parts.append(re.escape(prefix[pos:]))
    lead = tail = None
    if free and free[0] > 0:
        lead = re.compile("".join(parts[: free[0]]).encode("utf-8", "surrogatepass"))
    if free:
        tail_parts = [re.sub(r"\(\?P<(?!pid>|database>)\w+>", "(?:", part) for part in parts[free[-1] + 1 :]]
        tail = re.compile(
            (r".*?" + "".join(tail_parts)).encode("utf-8", "surrogatepass")
            + _SEVERITY_BYTES
            + SQLSTATE_BYTES.pattern
            + b"?"
        )
    if optional_from is not None:
        # Lazy: a line that reads as complete without the session part (a background process's) is taken so,
        # so that the free-text session fields can never reach into the message.
        parts[optional_from:] = ["(?:" + "".join(parts[optional_from:]) + ")??"]
    regex = re.compile("".join(parts) + _SEVERITY + r"(?P<message>.*)\Z", re.DOTALL)
    # The same prefix on bytes, without the message; no DOTALL, so it never reaches past the first line.
    head = re.compile("".join(parts).encode("utf-8", "surrogatepass") + _SEVERITY_BYTES)
    return CompiledPrefix(prefix, regex, frozenset(seen), head, lead, tail)
