"""The statements both backends run as they are: reads of the logs, the ledger, stored
projections and user queries, in SQL that SQLite and PostgreSQL read alike.

A recorder inherits `PortableQueries` and gives it `_rows` and `_execute`, which take
``?`` placeholders (the PostgreSQL recorder turns them into its own). What only one backend
can say (its locks, bulk writes, JSON parameters, schema) stays in its recorder.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Final

import polars as pl

from workbench.store import attributes as attrs
from workbench.store.attributes import Attributes
from workbench.store.recorder import OBJECT_TABLES, RANGE_COLUMNS, REJECT_COLUMNS, LogRow
from workbench.store.records import Job, Query, StoredProjection

JOB_COLUMNS: Final = (
    "job_id, log, source, sha256, format, mapping, status, events_read, events_added,"
    " duplicates, rejected, rows_committed, last_position, started_at, finished_at, seconds,"
    " message, pid, host, actor"
)
#: The columns of a job's record a ledger may change.
JOB_UPDATES: Final = frozenset({"mapping", "status", "finished_at", "seconds", "message"})
_KEY: Final = "log_id = ? AND view = ? AND name = ? AND at = ?"


def job_of(row: Sequence[Any]) -> Job:
    """A job from a row of `JOB_COLUMNS`."""
    values = list(row)
    values[5] = json.loads(values[5] or "{}")
    return Job(*values)


class PortableQueries(ABC):
    """The recorder methods whose SQL both backends share (see the module's documentation)."""

    @abstractmethod
    def _rows(self, query: str, parameters: Sequence[Any] = ()) -> list[Any]:
        """The rows of a query, on the recorder's connection."""

    @abstractmethod
    def _execute(self, query: str, parameters: Sequence[Any] = ()) -> int:
        """Run a write on its own; the rows it changed."""

    # logs
    def log_id(self, name: str) -> int | None:
        found = self._rows("SELECT log_id FROM logs WHERE name = ?", (name,))
        return int(found[0][0]) if found else None

    def log_identity(self, name: str) -> tuple[int, int] | None:
        found = self._rows("SELECT log_id, created_at FROM logs WHERE name = ?", (name,))
        return (int(found[0][0]), int(found[0][1])) if found else None

    def log_rows(self) -> list[LogRow]:
        rows = self._rows(
            "SELECT l.log_id, l.name, l.kind,"
            " (SELECT count(*) FROM cases c WHERE c.log_id = l.log_id),"
            " coalesce(sum(r.last_position - r.first_position + 1), 0),"
            " min(r.min_timestamp), max(r.max_timestamp)"
            " FROM logs l LEFT JOIN event_ranges r ON r.log_id = l.log_id"
            " GROUP BY l.log_id, l.name, l.kind ORDER BY l.log_id"
        )
        return [
            LogRow(int(a), str(b), str(c), int(d), int(e), f, g) for a, b, c, d, e, f, g in rows
        ]

    def object_types(self, log_id: int) -> list[tuple[str, int, int]]:
        # Events per type count each (event, object) pair once, as the view does.
        rows = self._rows(
            "SELECT object_type, count(*), sum(events) FROM ("
            " SELECT o.object_type, o.object_id, count(DISTINCT l.event_id) AS events"
            " FROM objects o LEFT JOIN event_objects l"
            " ON l.log_id = o.log_id AND l.object_id = o.object_id"
            " WHERE o.log_id = ? GROUP BY o.object_type, o.object_id"
            ") AS per_object GROUP BY object_type ORDER BY object_type",
            (log_id,),
        )
        return [(str(kind), int(objects), int(links)) for kind, objects, links in rows]

    def has_object_type(self, log_id: int, object_type: str) -> bool:
        return bool(
            self._rows(
                "SELECT 1 FROM logs l JOIN objects o ON o.log_id = l.log_id"
                " WHERE l.log_id = ? AND l.kind = 'object' AND o.object_type = ? LIMIT 1",
                (log_id, object_type),
            )
        )

    def head(self, log_id: int) -> int:
        found = self._rows(
            "SELECT max(last_position) FROM event_ranges WHERE log_id = ?", (log_id,)
        )
        return int(found[0][0] or 0)

    def cases_after(self, log_id: int, position: int, until: int) -> list[str]:
        # `+e.log_id` keeps the planner on the position range after the checkpoint.
        rows = self._rows(
            "SELECT DISTINCT c.case_id FROM events e JOIN cases c ON c.case_key = e.case_key"
            ' WHERE e.position > ? AND e."timestamp" <= ? AND +e.log_id = ?',
            (position, until, log_id),
        )
        return sorted(str(row[0]) for row in rows)

    def attributes(self, log_id: int) -> Attributes:
        found = self._rows("SELECT attribute_types FROM logs WHERE log_id = ?", (log_id,))
        return attrs.loads(found[0][0]) if found else {}

    def ranges(self, log_id: int) -> pl.DataFrame:
        rows = self._rows(
            f"SELECT {', '.join(RANGE_COLUMNS)} FROM event_ranges WHERE log_id = ?"
            " ORDER BY first_position",
            (log_id,),
        )
        return pl.DataFrame(rows, schema=dict(RANGE_COLUMNS), orient="row")

    def object_table(self, log_id: int, table: str) -> pl.DataFrame:
        columns = OBJECT_TABLES[table]
        selected = ", ".join("CAST(value AS TEXT)" if name == "value" else name for name in columns)
        order = ", ".join(name for name in columns if name not in ("kind", "value"))
        rows = self._rows(
            f"SELECT {selected} FROM {table} WHERE log_id = ? ORDER BY {order}", (log_id,)
        )
        return pl.DataFrame(rows, schema=dict(columns), orient="row")

    # the ingest ledger
    def set_job(self, job_id: int, **values: object) -> None:
        assert set(values) <= JOB_UPDATES, values
        assignments = ", ".join(f"{name} = ?" for name in values)
        parameters = [
            json.dumps(dict(value)) if name == "mapping" else value  # type: ignore[call-overload]
            for name, value in values.items()
        ]
        self._execute(
            f"UPDATE ingest_jobs SET {assignments} WHERE job_id = ?", (*parameters, job_id)
        )

    def jobs(self, log: str | None, job_id: int | None) -> list[Job]:
        where, parameters = _where(("log = ?", log), ("job_id = ?", job_id))
        rows = self._rows(
            f"SELECT {JOB_COLUMNS} FROM ingest_jobs{where} ORDER BY job_id DESC", parameters
        )
        return [job_of(row) for row in rows]

    def rejects(self, log: str) -> pl.DataFrame:
        rows = self._rows(
            "SELECT job_id, source, line, place, field, value, reason FROM rejects"
            " WHERE log = ? ORDER BY job_id, line NULLS FIRST, reject_id",
            (log,),
        )
        return pl.DataFrame(rows, schema=dict(REJECT_COLUMNS), orient="row")

    # stored projections
    def projection_position(self, log_id: int, view: str, name: str, at: int) -> int | None:
        found = self._rows(
            f"SELECT position FROM projections WHERE {_KEY}", (log_id, view, name, at)
        )
        return int(found[0][0]) if found else None

    def pending_change_rows(self, log_id: int, view: str, name: str, at: int) -> int:
        found = self._rows(
            f"SELECT coalesce(sum(rows), 0) FROM projection_changes WHERE {_KEY}",
            (log_id, view, name, at),
        )
        return int(found[0][0])

    def load_projection(
        self, log_id: int, view: str, name: str, at: int
    ) -> tuple[bytes, int, list[tuple[str, bytes]]] | None:
        key = (log_id, view, name, at)
        found = self._rows(f"SELECT data, position FROM projections WHERE {_KEY}", key)
        if not found:
            return None
        changes = self._rows(
            f"SELECT replaced, data FROM projection_changes WHERE {_KEY} ORDER BY seq", key
        )
        data, position = found[0]
        return bytes(data), int(position), [(str(r), bytes(d)) for r, d in changes]

    def projection_rows(self, log_id: int | None, view: str | None) -> list[StoredProjection]:
        where, parameters = _where(("l.log_id = ?", log_id), ("p.view = ?", view))
        rows = self._rows(
            "SELECT CASE p.view WHEN '' THEN l.name ELSE l.name || '/' || p.view END,"
            " p.name, p.at, p.position, p.refreshed_at, p.seconds, length(p.data)"
            f" FROM projections p JOIN logs l ON l.log_id = p.log_id{where}"
            " ORDER BY l.log_id, p.view, p.name, p.at",
            parameters,
        )
        return [StoredProjection(*row) for row in rows]

    # user queries
    def define_query(self, query: Query) -> None:
        self._execute(
            "INSERT INTO user_projections (name, query, description) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET query = excluded.query,"
            " description = excluded.description",
            (query.name, query.query, query.description),
        )

    def remove_query(self, name: str) -> bool:
        return self._execute("DELETE FROM user_projections WHERE name = ?", (name,)) > 0

    def queries(self) -> list[Query]:
        rows = self._rows("SELECT name, query, description FROM user_projections ORDER BY name")
        return [Query(str(n), str(q), str(d)) for n, q, d in rows]

    # ------------------------------------------------------------------ alert rules

    def save_rule(self, name: str, log: str, definition: str, created_at: int) -> None:
        self._execute(
            "INSERT INTO alert_rules (name, log, definition, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET log = excluded.log,"
            " definition = excluded.definition, created_at = excluded.created_at,"
            " checked_position = NULL, holding = 0",
            (name, log, definition, created_at),
        )

    def remove_rule(self, name: str) -> bool:
        return self._execute("DELETE FROM alert_rules WHERE name = ?", (name,)) > 0

    def rules(self) -> list[tuple[str, str, str, int | None, bool]]:
        rows = self._rows(
            "SELECT name, log, definition, checked_position, holding FROM alert_rules ORDER BY name"
        )
        return [(str(n), str(g), str(d), p, bool(h)) for n, g, d, p, h in rows]

    def check_rule(self, name: str, position: int, holding: bool) -> None:
        self._execute(
            "UPDATE alert_rules SET checked_position = ?, holding = ? WHERE name = ?",
            (position, int(holding), name),
        )

    def add_firing(self, row: tuple[str, str, int, int, int, float | None, str]) -> None:
        self._execute(
            "INSERT INTO alert_firings (rule, log, position, moment, recorded_at, value,"
            " message) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (rule, position) DO NOTHING",
            row,
        )

    def firings(self) -> list[tuple[Any, ...]]:
        return self._rows(
            "SELECT rule, log, position, moment, recorded_at, value, message FROM alert_firings"
            " ORDER BY position, rule"
        )

    # ------------------------------------------------------------------ users and audit

    def save_user(self, name: str, role: str, password: str, at: int) -> None:
        self._execute(
            "INSERT INTO users (name, role, password, created_at, changed_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET role = excluded.role,"
            " password = excluded.password, changed_at = excluded.changed_at",
            (name, role, password, at, at),
        )

    def remove_user(self, name: str) -> bool:
        return self._execute("DELETE FROM users WHERE name = ?", (name,)) > 0

    def users(self) -> list[tuple[str, str, str, int, int]]:
        rows = self._rows(
            "SELECT name, role, password, created_at, changed_at FROM users ORDER BY name"
        )
        return [(str(n), str(r), str(p), int(c), int(h)) for n, r, p, c, h in rows]

    def add_audit(self, at: int, actor: str, action: str, target: str, detail: str) -> None:
        self._execute(
            "INSERT INTO audit (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
            (at, actor, action, target, detail),
        )

    def audit(self, actor: str | None, action: str | None, since: int | None) -> list[Any]:
        where, parameters = _where(("actor = ?", actor), ("action = ?", action), ("at >= ?", since))
        return self._rows(
            f"SELECT at, actor, action, target, detail FROM audit{where} ORDER BY at, actor",
            parameters,
        )

    def save_grant(self, log: str, principal: str, role: str, at: int) -> None:
        self._execute(
            "INSERT INTO grants (log, principal, role, granted_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (log, principal) DO UPDATE SET role = excluded.role,"
            " granted_at = excluded.granted_at",
            (log, principal, role, at),
        )

    def remove_grant(self, log: str | None, principal: str | None) -> int:
        where, parameters = _where(("log = ?", log), ("principal = ?", principal))
        return self._execute(f"DELETE FROM grants{where}", parameters)

    def grants(self) -> list[tuple[str, str, str, int]]:
        rows = self._rows("SELECT log, principal, role, granted_at FROM grants ORDER BY 1, 2")
        return [(str(g), str(p), str(r), int(a)) for g, p, r, a in rows]

    def set_groups(self, name: str, groups: list[str]) -> None:
        self._execute("DELETE FROM user_groups WHERE name = ?", (name,))
        for group in groups:
            self._execute("INSERT INTO user_groups (name, grp) VALUES (?, ?)", (name, group))

    def groups(self) -> list[tuple[str, str]]:
        return [
            (str(n), str(g))
            for n, g in self._rows("SELECT name, grp FROM user_groups ORDER BY 1, 2")
        ]

    def record_calendar(self, name: str, definition: str, at: int, removed: bool) -> None:
        self._execute(
            "INSERT INTO calendars (name, definition, recorded_at, removed) VALUES (?, ?, ?, ?)",
            (name, definition, at, int(removed)),
        )

    def calendar_rows(self) -> list[tuple[str, str, int, bool]]:
        rows = self._rows("SELECT name, definition, recorded_at, removed FROM calendars")
        found = [(str(n), str(d), int(a), bool(r)) for n, d, a, r in rows]
        return sorted(found, key=lambda row: row[2])

    def store_key(self, name: str, secret: str, at: int) -> str:
        self._execute(
            "INSERT INTO store_keys (name, secret, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO NOTHING",
            (name, secret, at),
        )
        return str(self._rows("SELECT secret FROM store_keys WHERE name = ?", (name,))[0][0])


def _where(*conditions: tuple[str, object | None]) -> tuple[str, list[object]]:
    """A WHERE clause of the conditions whose value is given, and their parameters."""
    given = [(condition, value) for condition, value in conditions if value is not None]
    clause = " AND ".join(condition for condition, _ in given)
    return (f" WHERE {clause}" if given else "", [value for _, value in given])
