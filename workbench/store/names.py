"""Names: what the store accepts as a log name, the ``LOG/TYPE`` views of object-centric
logs, and a store's location as it may be shown.

A log name is a line of text a person chose; it is shown in titles, tables and URLs. The
store refuses names that cannot be shown safely: empty, longer than `MAX_LENGTH`, with
control characters or line breaks, or with ``/``, which separates a log from one of its
object types in a view name.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit, urlunsplit

from workbench.events import InvalidName

MAX_LENGTH: Final = 200
SEPARATOR: Final = "/"


def check_log_name(name: str) -> str:
    """The name, if the store accepts it as the name of a new log; else `InvalidName`.

    >>> check_log_name("orders 2024")
    'orders 2024'
    >>> check_log_name("a/b")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    workbench.events.InvalidName: log name 'a/b': '/' separates a log from an object type...
    """
    if not name.strip():
        raise InvalidName("a log name cannot be empty")
    if len(name) > MAX_LENGTH:
        raise InvalidName(
            f"log name {name[:40]!r}...: {len(name)} characters; at most {MAX_LENGTH} are allowed"
        )
    if SEPARATOR in name:
        raise InvalidName(
            f"log name {name!r}: '/' separates a log from an object type (LOG/TYPE);"
            " choose a name without it"
        )
    bad = [c for c in name if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")]
    if bad:
        raise InvalidName(
            f"log name {name!r}: control characters or line breaks"
            f" ({', '.join(f'U+{ord(c):04X}' for c in bad[:3])}) are not allowed"
        )
    return name


@dataclass(frozen=True)
class LogName:
    """A name as a user writes it: a log, or a view ``LOG/TYPE`` of one object type.

    >>> LogName.parse("orders/items")
    LogName(log='orders', object_type='items')
    >>> LogName.parse("orders")
    LogName(log='orders', object_type=None)
    >>> str(LogName("orders", "items"))
    'orders/items'
    """

    log: str
    object_type: str | None = None

    @classmethod
    def parse(cls, text: str) -> LogName:
        """Split at the first ``/``: log names have none, object types may."""
        log, separator, object_type = text.partition(SEPARATOR)
        return cls(log, object_type) if separator and log and object_type else cls(text)

    @property
    def is_view(self) -> bool:
        """Whether it names one object type's view of an object-centric log."""
        return self.object_type is not None

    def __str__(self) -> str:
        return self.log if self.object_type is None else f"{self.log}{SEPARATOR}{self.object_type}"


def public_location(url: str) -> str:
    """A server URL as it may be shown: without its password.

    >>> public_location("postgresql://ana:secret@db:5432/logs")
    'postgresql://ana@db:5432/logs'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=f"{user}{host}"))
