"""Projections users define in SQL over the table ``events``, kept in the store."""

from __future__ import annotations

import re

from workbench.events import WorkbenchError
from workbench.store.recorder import QueryRecorder
from workbench.store.records import Query

_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_STRINGS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")


class InvalidQuery(WorkbenchError):
    """A user projection that is not one query (a SELECT, or WITH ... SELECT)."""


def check_query(query: str) -> str:
    """The query, if it is one SELECT (or ``WITH ... SELECT``) statement; else `InvalidQuery`.

    >>> check_query("SELECT activity, count(*) FROM events GROUP BY 1")
    'SELECT activity, count(*) FROM events GROUP BY 1'
    >>> check_query("DROP TABLE events")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    workbench.store.queries.InvalidQuery: a projection is a query (...), not DROP
    """
    code = _STRINGS.sub("''", _COMMENTS.sub(" ", query))
    statements = [part for part in code.split(";") if part.strip()]
    if not statements:
        raise InvalidQuery("the query is empty")
    if len(statements) > 1:
        raise InvalidQuery("give one query: the text holds several statements")
    words = statements[0].strip().lstrip("(").split(None, 1)
    first = words[0].upper() if words else ""
    if first not in ("SELECT", "WITH"):
        raise InvalidQuery(
            f"a projection is a query (SELECT ... or WITH ... SELECT ...), not {first}"
        )
    return query


class UserQueries:
    """The SQL projections of a store."""

    def __init__(self, recorder: QueryRecorder) -> None:
        self.recorder = recorder

    def define(self, name: str, query: str, *, description: str = "") -> None:
        """Keep a projection (replacing one of the same name), if it is a query."""
        if not name.strip():
            raise InvalidQuery("a projection needs a name")
        self.recorder.define_query(Query(name, check_query(query), description))

    def remove(self, name: str) -> bool:
        """Forget a projection; False when there was none of that name."""
        return self.recorder.remove_query(name)

    def list(self) -> list[Query]:
        """The projections, by name."""
        return self.recorder.queries()
