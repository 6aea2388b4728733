"""A corpus of queries in the query language, each beside the same computation written in
Polars on the store's own events (`EventStore.scan`): aggregates, windows over cases, joins
of events and cases, the process map and variants, and the cuts. Any case log does (the
queries name only the columns every log has). The query tests run it on both stores, the
SQL endpoint's tests through psycopg, the Spark tests in Spark SQL.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import polars as pl

Rows = list[tuple[Any, ...]]
#: (statement, its rows computed in Polars from the log's events as stored)
CORPUS: list[tuple[str, Callable[[pl.DataFrame], Rows]]] = []

KNOWN_AT = 2_000  # a position the SYSTEM_TIME queries cut at
VALID = datetime(2011, 1, 1, tzinfo=UTC)  # a moment the VALID_TIME queries cut at (receipt)


def query(sql: str) -> Callable[[Callable[[pl.DataFrame], Rows]], Callable[[pl.DataFrame], Rows]]:
    def register(
        compute: Callable[[pl.DataFrame], Rows],
    ) -> Callable[[pl.DataFrame], Rows]:
        CORPUS.append((sql, compute))
        return compute

    return register


def same(found: Rows, expected: Rows) -> bool:
    """Rows equal, floats to 1e-9 (an engine may sum in another order)."""
    if len(found) != len(expected):
        return False
    for row, wanted in zip(found, expected, strict=True):
        if len(row) != len(wanted):
            return False
        for value, other in zip(row, wanted, strict=True):
            if isinstance(value, float) or isinstance(other, float):
                if (
                    value is None
                    or other is None
                    or not math.isclose(float(value), float(other), rel_tol=1e-9, abs_tol=1e-9)
                ):
                    return False
            elif isinstance(value, list | tuple) or isinstance(other, list | tuple):
                if list(value) != list(other):
                    return False
            elif value != other:
                return False
    return True


def _ordered(ev: pl.DataFrame) -> pl.DataFrame:
    return ev.sort("case_id", "timestamp", "position")


def _following(ev: pl.DataFrame) -> pl.DataFrame:
    """Each event with the case's next one (time, then append order)."""
    return _ordered(ev).with_columns(
        following=pl.col("activity").shift(-1).over("case_id"),
        following_at=pl.col("timestamp").shift(-1).over("case_id"),
        next_resource=pl.col("resource").shift(-1).over("case_id"),
    )


def _cases(ev: pl.DataFrame) -> pl.DataFrame:
    return (
        _ordered(ev)
        .group_by("case_id", maintain_order=True)
        .agg(
            start=pl.col("timestamp").min(),
            end=pl.col("timestamp").max(),
            events=pl.len(),
            variant=pl.col("activity"),
        )
        .with_columns(seconds=(pl.col("end") - pl.col("start")).dt.total_microseconds() / 1e6)
    )


def _rows(frame: pl.DataFrame) -> Rows:
    return frame.rows()


@query("SELECT count(*) AS n FROM events")
def _count(ev: pl.DataFrame) -> Rows:
    return [(ev.height,)]


@query("SELECT activity, count(*) AS n FROM events GROUP BY activity ORDER BY n DESC, activity")
def _activities(ev: pl.DataFrame) -> Rows:
    return _rows(ev.group_by("activity").len().sort(["len", "activity"], descending=[True, False]))


@query("SELECT count(DISTINCT case_id) AS n FROM events")
def _distinct_cases(ev: pl.DataFrame) -> Rows:
    return [(ev["case_id"].n_unique(),)]


@query("SELECT case_id, count(*) AS n FROM events GROUP BY case_id ORDER BY case_id")
def _per_case(ev: pl.DataFrame) -> Rows:
    return _rows(ev.group_by("case_id").len().sort("case_id"))


@query("SELECT min(timestamp) AS first, max(timestamp) AS last FROM events")
def _span(ev: pl.DataFrame) -> Rows:
    return [(ev["timestamp"].min(), ev["timestamp"].max())]


@query(
    "SELECT date_trunc('month', timestamp) AS month, count(*) AS n FROM events"
    " GROUP BY 1 ORDER BY 1"
)
def _months(ev: pl.DataFrame) -> Rows:
    months = ev.group_by(pl.col("timestamp").dt.truncate("1mo").alias("m")).len()
    return _rows(months.sort("m"))


@query("SELECT hour(timestamp) AS h, count(*) AS n FROM events GROUP BY 1 ORDER BY 1")
def _hours(ev: pl.DataFrame) -> Rows:
    hours = ev.group_by(pl.col("timestamp").dt.hour().cast(pl.Int64).alias("h")).len()
    return _rows(hours.sort("h"))


@query("SELECT isodow(timestamp) AS d, count(*) AS n FROM events GROUP BY 1 ORDER BY 1")
def _weekdays(ev: pl.DataFrame) -> Rows:
    days = ev.group_by(pl.col("timestamp").dt.weekday().cast(pl.Int64).alias("d")).len()
    return _rows(days.sort("d"))


@query(
    "SELECT resource, count(*) AS n FROM events WHERE resource IS NOT NULL"
    " GROUP BY 1 HAVING count(*) > 20 ORDER BY 2 DESC, 1"
)
def _busy(ev: pl.DataFrame) -> Rows:
    counted = ev.filter(pl.col("resource").is_not_null()).group_by("resource").len()
    kept = counted.filter(pl.col("len") > 20)
    return _rows(kept.sort(["len", "resource"], descending=[True, False]))


@query(
    "SELECT upper(activity) AS a, count(*) AS n FROM events WHERE activity ILIKE 'c%'"
    " GROUP BY 1 ORDER BY 1"
)
def _strings(ev: pl.DataFrame) -> Rows:
    kept = ev.filter(pl.col("activity").str.to_lowercase().str.starts_with("c"))
    return _rows(kept.group_by(pl.col("activity").str.to_uppercase().alias("a")).len().sort("a"))


@query(f"SELECT count(*) AS n FROM events FOR SYSTEM_TIME AS OF {KNOWN_AT}")
def _known(ev: pl.DataFrame) -> Rows:
    return [(ev.filter(pl.col("position") <= KNOWN_AT).height,)]


@query(
    f"SELECT case_id, count(*) AS n FROM events FOR SYSTEM_TIME AS OF {KNOWN_AT}"
    " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10"
)
def _known_cases(ev: pl.DataFrame) -> Rows:
    counted = ev.filter(pl.col("position") <= KNOWN_AT).group_by("case_id").len()
    return _rows(counted.sort(["len", "case_id"], descending=[True, False]).head(10))


@query(
    f"SETTING DEFAULT SYSTEM_TIME AS OF {KNOWN_AT}"
    " SELECT count(DISTINCT case_id) AS n, max(position) AS head FROM events"
)
def _setting(ev: pl.DataFrame) -> Rows:
    kept = ev.filter(pl.col("position") <= KNOWN_AT)
    return [(kept["case_id"].n_unique(), kept["position"].max())]


@query(
    f"SELECT count(*) AS n FROM events AS now WHERE now.position NOT IN"
    f" (SELECT position FROM events FOR SYSTEM_TIME AS OF {KNOWN_AT})"
)
def _added(ev: pl.DataFrame) -> Rows:
    return [(ev.filter(pl.col("position") > KNOWN_AT).height,)]


@query(f"SELECT count(*) AS n FROM events FOR VALID_TIME AS OF TIMESTAMP '{VALID.isoformat()}'")
def _valid(ev: pl.DataFrame) -> Rows:
    return [(ev.filter(pl.col("timestamp") <= VALID).height,)]


@query(
    "SELECT case_id, activity FROM (SELECT case_id, activity, row_number() OVER"
    " (PARTITION BY case_id ORDER BY timestamp, position) AS k FROM events) WHERE k = 1"
    " ORDER BY case_id"
)
def _first(ev: pl.DataFrame) -> Rows:
    return _rows(
        _ordered(ev)
        .group_by("case_id", maintain_order=True)
        .first()[["case_id", "activity"]]
        .sort("case_id")
    )


@query(
    "SELECT case_id, activity FROM (SELECT case_id, activity, row_number() OVER"
    " (PARTITION BY case_id ORDER BY timestamp DESC, position DESC) AS k FROM events)"
    " WHERE k = 1 ORDER BY case_id"
)
def _last(ev: pl.DataFrame) -> Rows:
    return _rows(
        _ordered(ev)
        .group_by("case_id", maintain_order=True)
        .last()[["case_id", "activity"]]
        .sort("case_id")
    )


@query(
    "SELECT a, b, count(*) AS n FROM (SELECT activity AS a, lead(activity) OVER"
    " (PARTITION BY case_id ORDER BY timestamp, position) AS b FROM events)"
    " WHERE b IS NOT NULL GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2"
)
def _pairs(ev: pl.DataFrame) -> Rows:
    pairs = _following(ev).filter(pl.col("following").is_not_null())
    counted = pairs.group_by("activity", "following").len()
    return _rows(counted.sort(["len", "activity", "following"], descending=[True, False, False]))


@query(
    "SELECT a, b, avg(date_diff('microsecond', t1, t2) / 1e6) AS mean FROM (SELECT activity AS a,"
    " timestamp AS t1, lead(activity) OVER w AS b, lead(timestamp) OVER w AS t2 FROM events"
    " WINDOW w AS (PARTITION BY case_id ORDER BY timestamp, position)) WHERE b IS NOT NULL"
    " GROUP BY 1, 2 ORDER BY 1, 2"
)
def _waits(ev: pl.DataFrame) -> Rows:
    pairs = _following(ev).filter(pl.col("following").is_not_null())
    waits = pairs.with_columns(
        w=(pl.col("following_at") - pl.col("timestamp")).dt.total_microseconds() / 1e6
    )
    return _rows(
        waits.group_by("activity", "following")
        .agg(pl.col("w").mean())
        .sort("activity", "following")
    )


@query(
    "SELECT resource AS giver, r AS taker, count(*) AS n FROM (SELECT resource, lead(resource)"
    " OVER (PARTITION BY case_id ORDER BY timestamp, position) AS r FROM events)"
    " WHERE resource <> r GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 15"
)
def _handover(ev: pl.DataFrame) -> Rows:
    handed = _following(ev).filter(pl.col("resource") != pl.col("next_resource"))
    counted = handed.group_by("resource", "next_resource").len()
    ordered = counted.sort(["len", "resource", "next_resource"], descending=[True, False, False])
    return _rows(ordered.head(15))


@query("SELECT source, target, frequency FROM dfg ORDER BY frequency DESC, source, target")
def _dfg(ev: pl.DataFrame) -> Rows:
    return _pairs(ev)


@query("SELECT sum(frequency) AS n, count(*) AS edges FROM dfg")
def _dfg_total(ev: pl.DataFrame) -> Rows:
    pairs = _following(ev).filter(pl.col("following").is_not_null())
    return [(pairs.height, pairs.select("activity", "following").unique().height)]


@query("SELECT case_id, events, duration_seconds FROM cases ORDER BY case_id")
def _case_rows(ev: pl.DataFrame) -> Rows:
    return _rows(_cases(ev).select("case_id", "events", "seconds").sort("case_id"))


@query('SELECT case_id, start, "end" FROM cases ORDER BY start DESC, case_id LIMIT 20')
def _case_times(ev: pl.DataFrame) -> Rows:
    found = _cases(ev).select("case_id", "start", "end")
    return _rows(found.sort(["start", "case_id"], descending=[True, False]).head(20))


@query("SELECT len(variant) AS k, count(*) AS n FROM cases GROUP BY 1 ORDER BY 1")
def _lengths(ev: pl.DataFrame) -> Rows:
    return _rows(_cases(ev).group_by("events").len().sort("events"))


@query("SELECT variant[1] AS first, count(*) AS n FROM cases GROUP BY 1 ORDER BY 2 DESC, 1")
def _first_in_variant(ev: pl.DataFrame) -> Rows:
    found = _cases(ev).group_by(pl.col("variant").list.first().alias("f")).len()
    return _rows(found.sort(["len", "f"], descending=[True, False]))


@query("SELECT quantile_cont(duration_seconds, 0.5) AS median FROM cases")
def _median(ev: pl.DataFrame) -> Rows:
    return [(_cases(ev)["seconds"].median(),)]


@query(
    "SELECT e.activity, count(*) AS n FROM events AS e JOIN cases AS c USING (log, case_id)"
    " WHERE c.events > 5 GROUP BY 1 ORDER BY 2 DESC, 1"
)
def _join(ev: pl.DataFrame) -> Rows:
    long = _cases(ev).filter(pl.col("events") > 5).select("case_id")
    kept = ev.join(long, on="case_id", how="semi").group_by("activity").len()
    return _rows(kept.sort(["len", "activity"], descending=[True, False]))


@query(
    "WITH per AS (SELECT case_id, count(*) AS n FROM events GROUP BY case_id)"
    " SELECT max(n) AS most, min(n) AS fewest, avg(n) AS mean FROM per"
)
def _cte(ev: pl.DataFrame) -> Rows:
    per = ev.group_by("case_id").len()["len"]
    return [(per.max(), per.min(), per.mean())]


@query(
    "SELECT count(*) AS n FROM (SELECT case_id, activity FROM events GROUP BY 1, 2"
    " HAVING count(*) > 1)"
)
def _rework(ev: pl.DataFrame) -> Rows:
    counted = ev.group_by("case_id", "activity").len()
    return [(counted.filter(pl.col("len") > 1).height,)]


@query("SELECT count(*) AS variants, sum(cases) AS cases FROM variants")
def _variants(ev: pl.DataFrame) -> Rows:
    found = _cases(ev)
    return [(found["variant"].n_unique(), found.height)]


@query("SELECT v.cases FROM variants AS v ORDER BY v.cases DESC LIMIT 5")
def _top_variants(ev: pl.DataFrame) -> Rows:
    counted = _cases(ev).group_by("variant").len()
    return [(n,) for n in counted["len"].sort(descending=True).head(5).to_list()]


@query("SELECT events, cases FROM logs")
def _logs(ev: pl.DataFrame) -> Rows:
    return [(ev.height, ev["case_id"].n_unique())]


@query(
    "SELECT c.case_id, count(*) AS later FROM cases AS c JOIN events AS e"
    " ON e.case_id = c.case_id AND e.timestamp > c.start + INTERVAL 7 DAY"
    " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10"
)
def _after_a_week(ev: pl.DataFrame) -> Rows:
    starts = ev.group_by("case_id").agg(start=pl.col("timestamp").min())
    joined = ev.join(starts, on="case_id").filter(
        pl.col("timestamp") > pl.col("start") + pl.duration(days=7)
    )
    counted = joined.group_by("case_id").len()
    return _rows(counted.sort(["len", "case_id"], descending=[True, False]).head(10))


@query(
    "SELECT dayofweek(timestamp) AS a, isodow(timestamp) AS b, weekday(timestamp) AS c,"
    " extract(dow FROM timestamp) AS d, date_part('isodow', timestamp) AS e, count(*) AS n"
    " FROM events GROUP BY 1, 2, 3, 4, 5 ORDER BY 1"
)
def _days(ev: pl.DataFrame) -> Rows:
    iso = pl.col("timestamp").dt.weekday().cast(pl.Int64)  # Monday 1 ... Sunday 7
    days = ev.group_by((iso % 7).alias("a"), iso.alias("b")).len().sort("a")
    return [(a, b, a, a, b, n) for a, b, n in days.rows()]


@query(
    "SELECT case_id, max(epoch(timestamp)) - min(epoch(timestamp)) AS span FROM events"
    " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10"
)
def _epochs(ev: pl.DataFrame) -> Rows:
    found = _cases(ev).select("case_id", "seconds")
    return _rows(found.sort(["seconds", "case_id"], descending=[True, False]).head(10))
