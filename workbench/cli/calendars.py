"""Working calendars: calendar add, list, show, remove and assign."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated

import typer
from rich.table import Table

from workbench.cli.commands import app, command
from workbench.cli.options import JsonOption
from workbench.cli.output import emit_json, fail, heading, out
from workbench.cli.session import workbench

calendar_app = typer.Typer(
    no_args_is_help=True,
    epilog='Example: workbench calendar add office --hours "mon-fri 09:00-17:00"',
)
app.add_typer(calendar_app, name="calendar", help="Working calendars for business time.")

KnownAt = Annotated[
    str | None,
    typer.Option(help="As the store knew it at this time (a change after it does not count)."),
]


def _known_at(text: str | None) -> datetime | None:
    from workbench.events import parse_time

    if text is None:
        return None
    try:
        return parse_time(text)
    except ValueError:
        fail(f"--known-at {text!r}: give an ISO 8601 time such as 2024-03-01T12:00")


@partial(command, on=calendar_app, name="add")
def calendar_add(
    name: Annotated[str, typer.Argument(help="The calendar's name.")],
    hours: Annotated[
        list[str],
        typer.Option(
            "--hours", help='Working hours: "mon-fri 09:00-17:00" (repeatable: a lunch break).'
        ),
    ],
    holidays: Annotated[
        str | None, typer.Option(help="Closed dates: 2024-12-25,2024-12-26.")
    ] = None,
    country: Annotated[
        str | None, typer.Option(help="Also this country's public holidays (NL, DE, US ...).")
    ] = None,
    timezone: Annotated[str, typer.Option(help="The hours' time zone (IANA).")] = "UTC",
) -> None:
    """Record a working calendar (a new one, or a change from now on: what it was stays
    known for --known-at).

    Example: workbench calendar add office --hours "mon-fri 09:00-17:00" --country NL
    """
    from workbench.calendars import Calendar

    dates = [day for day in (holidays or "").split(",") if day.strip()]
    calendar = Calendar.parse(name, hours, timezone=timezone, holidays=dates, country=country)
    workbench().add_calendar(calendar)
    heading(name, ": " + "; ".join(calendar.describe()))


@partial(command, on=calendar_app, name="list")
def calendar_list(known_at: KnownAt = None, as_json: JsonOption = False) -> None:
    """List the working calendars with their weekly working hours.

    Example: workbench calendar list --json
    """
    moment = _known_at(known_at)
    found = workbench().calendars(moment)
    defaults: dict[str, list[str]] = {}
    for log, name in sorted(workbench().assigned_calendars(moment).items()):
        defaults.setdefault(name, []).append(log)
    by_value: dict[str, list[dict[str, object]]] = {}
    for log, (key, values) in sorted(workbench().calendars_by_value(moment).items()):
        for name in dict.fromkeys(values.values()):
            chosen = [value for value, calendar in values.items() if calendar == name]
            by_value.setdefault(name, []).append({"log": log, "attribute": key, "values": chosen})
    if as_json:
        emit_json(
            [
                {
                    **calendar.as_dict(),
                    "default_of": defaults.get(calendar.name, []),
                    "assigned_to": by_value.get(calendar.name, []),
                }
                for calendar in found.values()
            ]
        )
        return
    if not found:
        out.print('no calendars: `workbench calendar add NAME --hours "mon-fri 09:00-17:00"`')
        return
    table = Table("calendar", "time zone", "hours a week", "holidays", "default of", "assigned to")
    for calendar in found.values():
        named = f"{len(calendar.holidays)} named" if calendar.holidays else ""
        public = f"{calendar.country} public" if calendar.country else ""
        assigned = [
            f"{item['log']} ({item['attribute']}={','.join(item['values'])})"  # type: ignore[arg-type]
            for item in by_value.get(calendar.name, [])
        ]
        table.add_row(
            calendar.name,
            calendar.timezone,
            f"{calendar.weekly_seconds / 3600:g}",
            ", ".join(part for part in (public, named) if part),
            ", ".join(defaults.get(calendar.name, [])),
            ", ".join(assigned),
        )
    out.print(table)


@partial(command, on=calendar_app, name="show")
def calendar_show(
    name: Annotated[str, typer.Argument(help="The calendar's name.")],
    known_at: KnownAt = None,
    as_json: JsonOption = False,
) -> None:
    """Show a calendar: its hours per day, time zone and holidays.

    Example: workbench calendar show office --known-at 2024-03-01
    """
    calendar = workbench().calendar(name, _known_at(known_at))
    if as_json:
        emit_json(calendar.as_dict())
        return
    heading(calendar.name)
    for line in calendar.describe():
        out.print(f"  {line}")


@partial(command, on=calendar_app, name="remove")
def calendar_remove(name: Annotated[str, typer.Argument(help="The calendar's name.")]) -> None:
    """Remove a calendar from now on (it stays known as it was, for --known-at).

    Example: workbench calendar remove office
    """
    workbench().remove_calendar(name)
    heading(name, ": removed")


@partial(command, on=calendar_app, name="assign")
def calendar_assign(
    name: Annotated[
        str, typer.Argument(help="The calendar's name, or 'elapsed' for elapsed time again.")
    ],
    log: Annotated[str, typer.Option(help="The log whose default it becomes.")],
    attribute: Annotated[
        str | None,
        typer.Option(
            help="Only for cases with these values of one attribute: site=Utrecht,Delft"
            " (a value's calendar; 'elapsed' gives it back to the log's default)."
        ),
    ] = None,
) -> None:
    """Make a calendar a log's default: every duration of the log (stats, state, dfg,
    activities, spectrum, the app) is then in its working time unless --calendar names
    another, or --calendar elapsed asks for elapsed time. With --attribute, the calendar
    of some values of one attribute (a site, a team, a resource): a duration then counts in
    the calendar of the value its case has when it ends, others in the log's default
    (--calendar assigned). Recorded from now on.

    Example: workbench calendar assign office --log orders --attribute site=Delft
    """
    from workbench.application import ELAPSED
    from workbench.cli.options import attribute_values
    from workbench.cli.session import existing_log

    bench = workbench()
    chosen = None if name == ELAPSED else name
    if attribute is None:
        bench.assign_calendar(existing_log(log), chosen)
        heading(log, f": durations in {'elapsed time' if chosen is None else name} by default")
        return
    key, sep, values = attribute.partition("=")
    if not sep or not key or not values:
        fail(f"--attribute {attribute!r}: write the attribute and its values as site=Utrecht,Delft")
    listed = list(attribute_values(values))
    bench.assign_calendar(existing_log(log), chosen, (key, listed))
    what = "the log's default" if chosen is None else name
    heading(log, f": cases with {key} {', '.join(listed)} in {what}")
