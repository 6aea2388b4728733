"""Options declared once: the filter flags and the cuts, parsed into `Filters` and a `Cut`,
and the engine."""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from workbench.cli.commands import F
from workbench.cli.output import (
    fail,
)

if TYPE_CHECKING:
    from workbench.application import Cut
    from workbench.calendars import Hours
    from workbench.filters import Filters


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
LogArgument = Annotated[str, typer.Argument(help="The log (or LOG/TYPE view).")]
KnownAtOption = Annotated[
    str | None,
    typer.Option("--known-at", help="As the store knew it then: a time, or a position (digits)."),
]
BudgetOption = Annotated[
    float | None,
    typer.Option(
        "--budget",
        help="Seconds of wall-clock time the computation may take: it stops then and reports"
        " what it finished, labelled as partial.",
    ),
]
MemoryOption = Annotated[
    str | None,
    typer.Option(
        "--memory",
        help="Most memory the computation may hold, e.g. 2GB (default: half of this"
        " machine's, at most 8 GB); it stops there like at the budget.",
    ),
]


def memory_size(text: str | None) -> int | None:
    """``--memory`` in bytes, or a failure naming it."""
    from workbench.bounded import parse_size

    if text is None:
        return None
    try:
        return parse_size(text)
    except ValueError as error:
        fail(f"--memory {error}")


@dataclass(frozen=True)
class FilterFlags:
    """The common filters and time cuts, as given on the command line."""

    start: str | None = None
    end: str | None = None
    activity: list[str] | None = None
    attribute: list[str] | None = None
    as_of: str | None = None
    known_at: str | None = None
    lifecycle: list[str] | None = None
    follows: tuple[str, str] | None = None
    directly: bool | None = None
    within: str | None = None
    same_attribute: str | None = None
    different_attribute: str | None = None
    exclude: bool | None = None

    def cut(self) -> Cut:
        """The cut flags as a `Cut`."""
        from workbench.application import Cut

        return Cut.parse(as_of=self.as_of, known_at=self.known_at)

    def filters(self, calendar: Hours | None = None) -> Filters:
        """The filter flags as `Filters`; the follower filter's ``--within`` counts the
        ``calendar``'s working time, if one is given."""
        from workbench.application import moment
        from workbench.filters import Contains, Filters, Lifecycle, TimeRange

        items: list[Any] = []
        if self.start or self.end:
            low = moment(self.start, "--from") if self.start else None
            high = moment(self.end, "--to") if self.end else None
            if low is not None and high is not None and high < low:
                fail(f"--to {self.end} is before --from {self.start}")
            items.append(TimeRange(low, high))
        if self.lifecycle:
            items.append(Lifecycle(tuple(self.lifecycle)))
        if self.activity:
            items.append(Contains(tuple(self.activity)))
        for pair in self.attribute or []:
            items.append(attribute_filter(pair, "--attribute"))
        follower = self._follower(calendar)
        if follower is not None:
            items.append(follower)
        return Filters(tuple(items))

    def _follower(self, calendar: Hours | None) -> Any:
        """The follower filter of ``--follows A B`` and its modifiers, if given, its
        ``--within`` in the ``calendar``'s working time when there is one."""
        from workbench.filters import Follows

        modifiers = {
            "--directly": self.directly,
            "--within": self.within,
            "--same-attribute": self.same_attribute,
            "--different-attribute": self.different_attribute,
            "--exclude": self.exclude,
        }
        if self.follows is None:
            given = [flag for flag, value in modifiers.items() if value]
            if given:
                fail(f"{given[0]} goes with --follows A B")
            return None
        return Follows(
            self.follows[0],
            self.follows[1],
            directly=bool(self.directly),
            within=None if self.within is None else span(self.within, "--within", calendar),
            same=self.same_attribute,
            different=self.different_attribute,
            exclude=bool(self.exclude),
            calendar=calendar,
        )


_UNITS: Final = {"s": 1, "min": 60, "h": 3_600, "d": 86_400, "w": 604_800}


def span(text: str, flag: str, calendar: Hours | None = None) -> timedelta:
    """A duration such as 90s, 30min, 12h, 2d or 1w; with a ``calendar``, working time in
    which a day is the calendar's working day (2d: two working days) and a week its working
    week."""
    number = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = text[len(number) :] or "s"
    try:
        amount = float(number)
    except ValueError:
        amount = -1.0
    if unit not in _UNITS or amount < 0:
        fail(f"{flag} {text!r}: write a duration such as 90s, 30min, 12h, 2d or 1w")
    size: float = _UNITS[unit]
    if calendar is not None and unit in ("d", "w"):
        size = calendar.day_seconds if unit == "d" else calendar.weekly_seconds
        if size == float("inf"):
            fail(
                f"{flag} {text!r}: the log's calendars have working days of different"
                " lengths; give the span in hours (such as 16h)"
            )
    return timedelta(seconds=amount * size)


_FILTER_FLAGS: dict[str, Any] = {
    "start": Annotated[
        str | None,
        typer.Option("--from", help="Cases active from this time (ISO 8601, UTC if no offset)."),
    ],
    "end": Annotated[str | None, typer.Option("--to", help="Cases active until this time.")],
    "activity": Annotated[
        list[str] | None, typer.Option("--activity", help="Cases with this activity (repeatable).")
    ],
    "attribute": Annotated[
        list[str] | None,
        typer.Option(
            "--attribute",
            help=r"Cases with KEY=VALUE (VALUE may be a,b,c; \, is a comma within a value;"
            " repeatable).",
        ),
    ],
    "as_of": Annotated[
        str | None, typer.Option("--as-of", help="The log as it happened up to this time.")
    ],
    "known_at": KnownAtOption,
    "lifecycle": Annotated[
        list[str] | None,
        typer.Option(
            "--lifecycle", help="Only events with this lifecycle, e.g. complete (repeatable)."
        ),
    ],
    "follows": Annotated[
        tuple[str, str] | None,
        typer.Option(
            "--follows", metavar="A B", help="Cases where an A is eventually followed by a B."
        ),
    ],
    "directly": Annotated[
        bool | None, typer.Option("--directly", help="With --follows: B right after A.")
    ],
    "within": Annotated[
        str | None,
        typer.Option("--within", help="With --follows: at most this long between (2d, 12h)."),
    ],
    "same_attribute": Annotated[
        str | None,
        typer.Option("--same-attribute", help="With --follows: A and B share this attribute."),
    ],
    "different_attribute": Annotated[
        str | None,
        typer.Option(
            "--different-attribute",
            help="With --follows: A and B differ in this attribute (four eyes: resource).",
        ),
    ],
    "exclude": Annotated[
        bool | None, typer.Option("--exclude", help="With --follows: the other cases.")
    ],
}


_UNLOADED: Final = {"Cut": Any, "Filters": Any}


CalendarOption = Annotated[
    str | None,
    typer.Option(
        help="Durations in this calendar's working time (`calendar list`); elapsed: elapsed"
        " time; assigned: each case's by its attribute (`calendar assign --attribute`)."
        " Default: the log's, if assigned."
    ),
]


def with_filters(function: F, *, cuts: bool = True, times: bool = True) -> F:
    """Give a command the filter flags, and unless ``cuts`` is False the cut flags
    (``--as-of``, ``--known-at``), parsed once: it receives ``filters: Filters`` and, with
    the cut flags, ``cut: Cut``. ``times`` False leaves out ``--from`` and ``--to``, for a
    command that gives them a meaning of its own."""
    # The types of the cut and the filters are not needed (nor loaded: they load Polars).
    signature = inspect.signature(function, eval_str=True, locals=_UNLOADED)
    kept = [p for p in signature.parameters.values() if p.name not in ("cut", "filters")]
    names = [
        n
        for n in _FILTER_FLAGS
        if (cuts or n not in ("as_of", "known_at")) and (times or n not in ("start", "end"))
    ]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=kind)
        for name, kind in _FILTER_FLAGS.items()
        if name in names
    ]

    @functools.wraps(function)
    def run(**given: Any) -> Any:
        flags = FilterFlags(**{name: given.pop(name) for name in names})
        cut = flags.cut()
        hours = None
        if "calendar" in given and "log" in given:
            # --calendar NAME, elapsed, or by default the log's assigned calendar: what the
            # command's durations and the follower filter's --within count.
            from workbench.cli.session import workbench

            known = workbench().known_moment(given["log"], cut)
            given["calendar"] = workbench().durations_in(given["log"], given["calendar"], known)
            hours = workbench().hours(given["log"], given["calendar"], cut)
        filters = flags.filters(hours)
        return function(**given, filters=filters, **({"cut": cut} if cuts else {}))

    run.__signature__ = signature.replace(parameters=[*kept, *added])  # type: ignore[attr-defined]
    run.__annotations__ = {
        **{p.name: p.annotation for p in kept},
        **{p.name: p.annotation for p in added},
    }
    return run  # type: ignore[return-value]


def attribute_filter(pair: str, flag: str) -> Any:
    """A ``KEY=VALUES`` flag as an `Attribute` filter."""
    from workbench.filters import Attribute

    key, sep, values = pair.partition("=")
    if not sep or not key:
        fail(f"{flag} {pair!r}: write KEY=VALUE")
    return Attribute(key, attribute_values(values))


def attribute_values(text: str) -> tuple[str, ...]:
    """The values of ``--attribute KEY=VALUES``: split at commas, where ``\\,`` is a comma
    within a value and ``\\\\`` a backslash.

    >>> attribute_values(r"north,south")
    ('north', 'south')
    >>> attribute_values(r"Smith\\, J.,Lee")
    ('Smith, J.', 'Lee')
    """
    values, current, escaped = [], [], False
    for character in text:
        if escaped:
            current.append(character if character in ",\\" else "\\" + character)
            escaped = False
        elif character == "\\":
            escaped = True
        elif character == ",":
            values.append("".join(current))
            current = []
        else:
            current.append(character)
    if escaped:
        current.append("\\")
    values.append("".join(current))
    return tuple(values)


EngineOption = Annotated[
    str,
    typer.Option(
        "--engine",
        help="polars (on this machine) or spark (Apache Spark: see --spark-master).",
    ),
]
SparkMasterOption = Annotated[
    str | None,
    typer.Option(
        "--spark-master",
        help="Where Spark runs: local[*] (default), spark://host:7077, yarn, sc://host.",
    ),
]
