"""A deterministic generator of a realistic order-to-cash event log.

The process: an order is created and its credit checked; large orders need approval;
items are picked while the invoice is prepared (in parallel); the order is packed and
shipped, the invoice sent, and payment received, sometimes only after reminders. Orders
are changed (rework back to the credit check), cancelled, or split: a short pick creates
a back order, a case of its own caused by the pick event of its parent.

Every event carries explicit ids: ``causation_id`` is the event that enabled it (across
cases for back orders) and ``correlation_id`` the customer request that started the chain.
People work shifts; system steps run at any hour and some land on the same timestamp as
the step before. A few events arrive late: they are written after events that happened
later, and their ``arrived_at`` says when the source system delivered them.

The same seed gives the same log, whatever the chunk size.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

START = datetime(2024, 1, 1, tzinfo=UTC)
REGIONS = ("north", "south", "east", "west")
CHANNELS = ("web", "phone", "partner", "edi")

# Role -> (resources, shift start hours). Each resource works 8 hours from its start hour.
ROLES: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    "sales": (("Ana", "Ben", "Chloe", "Dev"), (7, 7, 13, 13)),
    "credit": (("Elif", "Farid"), (8, 12)),
    "manager": (("Grace",), (9,)),
    "warehouse": (("Hugo", "Ines", "Jon", "Kai", "Lena"), (6, 6, 14, 14, 22)),
    "billing": (("Mara", "Nils"), (8, 9)),
    "system": (("ERP",), ()),
}

COLUMNS = (
    "event_id",
    "case_id",
    "activity",
    "timestamp",
    "lifecycle",
    "resource",
    "correlation_id",
    "causation_id",
    "amount",
    "region",
    "channel",
    "arrived_at",
)

EVENTS_PER_CASE = 11.5  # the mean, measured over 10,000 cases; used to size a log


@dataclass
class _Case:
    """The simulation of one case: its events as rows, and the clock of each branch."""

    case_id: str
    correlation_id: str
    amount: float
    region: str
    channel: str
    rng: random.Random
    rows: list[tuple[Any, ...]]

    def emit(
        self,
        activity: str,
        at: datetime,
        role: str,
        cause: str | None,
        *,
        lifecycle: str = "complete",
        late: bool = False,
    ) -> tuple[str, datetime]:
        resource, at = _staff(role, at, self.rng)
        event_id = f"{self.case_id}-{len(self.rows):03d}"
        arrived = at + timedelta(hours=self.rng.uniform(20, 96)) if late else at
        self.rows.append(
            (
                event_id,
                self.case_id,
                activity,
                at,
                lifecycle,
                resource,
                self.correlation_id,
                cause,
                self.amount,
                self.region,
                self.channel,
                arrived,
            )
        )
        return event_id, at


def _staff(role: str, ready: datetime, rng: random.Random) -> tuple[str, datetime]:
    """A resource of the role and the moment it can act: within its shift, not on Sundays."""
    names, shifts = ROLES[role]
    index = rng.randrange(len(names))
    if not shifts:
        return names[index], ready
    start_hour = shifts[index]
    moment = ready
    for _ in range(8):
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        opens = day + timedelta(hours=start_hour)
        closes = opens + timedelta(hours=8)
        if moment.weekday() != 6 and opens <= moment < closes:
            return names[index], moment
        if moment.weekday() != 6 and moment < opens:
            return names[index], opens + timedelta(minutes=rng.uniform(0, 45))
        moment = day + timedelta(days=1)
    return names[index], moment


def _minutes(rng: random.Random, mean: float) -> timedelta:
    return timedelta(minutes=rng.expovariate(1 / mean), microseconds=rng.randrange(1_000_000))


def _simulate(case: _Case, start: datetime, cause: str | None, back_orders: list[Any]) -> None:
    rng = case.rng
    late = 0.02
    last, at = case.emit("Create Order", start, "sales", cause)
    while True:
        last, at = case.emit("Check Credit", at + _minutes(rng, 90), "credit", last)
        if rng.random() < 0.04:
            case.emit("Cancel Order", at + _minutes(rng, 240), "sales", last)
            return
        if case.amount > 5_000:
            last, at = case.emit("Request Approval", at, "system", last)  # same timestamp
            last, at = case.emit("Approve Order", at + _minutes(rng, 600), "manager", last)
        if rng.random() < 0.12:
            last, at = case.emit(
                "Change Order", at + _minutes(rng, 300), "sales", last, late=rng.random() < late
            )
            continue
        break
    # Pick and invoice preparation run in parallel branches from the same cause.
    pick_start, pick_at = case.emit(
        "Pick Items", at + _minutes(rng, 120), "warehouse", last, lifecycle="start"
    )
    pick, pick_at = case.emit("Pick Items", pick_at + _minutes(rng, 35), "warehouse", pick_start)
    invoice, invoice_at = case.emit(
        "Prepare Invoice", at + _minutes(rng, 200), "billing", last, late=rng.random() < late
    )
    if rng.random() < 0.06:
        back_orders.append((pick, pick_at, case))
    pack_start, pack_at = case.emit(
        "Pack", pick_at + _minutes(rng, 60), "warehouse", pick, lifecycle="start"
    )
    pack, pack_at = case.emit("Pack", pack_at + _minutes(rng, 20), "warehouse", pack_start)
    ship, ship_at = case.emit(
        "Ship", pack_at + _minutes(rng, 240), "warehouse", pack, late=rng.random() < late
    )
    send_at = max(ship_at, invoice_at)
    cause_of_send = ship if ship_at >= invoice_at else invoice
    send, send_at = case.emit("Send Invoice", send_at, "system", cause_of_send)
    reminders = 0
    while rng.random() < (0.25 if reminders == 0 else 0.35) and reminders < 3:
        reminders += 1
        send, send_at = case.emit(
            "Payment Reminder", send_at + timedelta(days=14 + rng.uniform(0, 3)), "billing", send
        )
    paid, paid_at = case.emit(
        "Receive Payment",
        send_at + timedelta(days=rng.uniform(1, 20)),
        "system",
        send,
        late=rng.random() < late,
    )
    case.emit("Close Order", paid_at + _minutes(rng, 30), "system", paid)


def _case(seed: int, number: int, start: datetime) -> _Case:
    rng = random.Random(seed * 1_000_003 + number)
    return _Case(
        case_id=f"O-{number:07d}",
        correlation_id=f"R-{number:07d}",
        amount=round(rng.lognormvariate(7.3, 1.0), 2),
        region=rng.choice(REGIONS),
        channel=rng.choices(CHANNELS, weights=(5, 2, 2, 1))[0],
        rng=rng,
        rows=[],
    )


def cases(seed: int, count: int, *, first: int = 0) -> Iterator[_Case]:
    """Simulated cases ``first .. count-1``, each from its own seeded random stream."""
    per_day = 40.0
    for number in range(first, count):
        rng = random.Random(seed * 7_919 + number)
        day = number / per_day
        start = START + timedelta(days=day, minutes=rng.uniform(0, 24 * 60 / per_day))
        case = _case(seed, number, start)
        back_orders: list[Any] = []
        _simulate(case, start, None, back_orders)
        yield case
        for pick, pick_at, parent in back_orders:
            child = _case(seed, number, start)
            child.case_id = f"{parent.case_id}-B"
            child.correlation_id = parent.correlation_id
            child.rng = random.Random(seed * 104_729 + number)
            _simulate(child, pick_at + timedelta(days=child.rng.uniform(2, 6)), pick, [])
            yield child


def frames(*, events: int, seed: int = 7, chunk_cases: int = 20_000) -> Iterator[pl.DataFrame]:
    """The log in chunks, each sorted by arrival: late events come after later ones."""
    count = max(1, round(events / EVENTS_PER_CASE))
    rows: list[tuple[Any, ...]] = []
    for index, case in enumerate(cases(seed, count)):
        rows.extend(case.rows)
        if (index + 1) % chunk_cases == 0:
            yield _frame(rows)
            rows = []
    if rows:
        yield _frame(rows)


def _frame(rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema=list(COLUMNS), orient="row")
    return frame.with_columns(
        pl.col("timestamp").dt.cast_time_unit("us"), pl.col("arrived_at").dt.cast_time_unit("us")
    ).sort("arrived_at", "timestamp", maintain_order=True)


def write(path: Path, *, events: int, seed: int = 7) -> int:
    """Write the log to CSV (.csv, .csv.gz), Parquet or CloudEvents JSON lines (.jsonl).

    Chunk by chunk, never the whole log in memory; returns the number of events.
    """
    path = Path(path)
    total = 0
    if path.suffix == ".parquet":
        writer: pq.ParquetWriter | None = None
        for frame in frames(events=events, seed=seed):
            table = frame.to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
            total += frame.height
        if writer is not None:
            writer.close()
        return total
    if path.suffix in (".jsonl", ".ndjson"):
        with path.open("wb") as handle:
            for frame in frames(events=events, seed=seed):
                handle.write(_cloudevents(frame).write_ndjson().encode())
                total += frame.height
        return total
    if path.name.endswith(".csv.gz"):
        import gzip

        with gzip.open(path, "wb", compresslevel=9) as compressed:
            for index, frame in enumerate(frames(events=events, seed=seed)):
                text = frame.write_csv(include_header=index == 0, datetime_format=_ISO)
                compressed.write(text.encode())
                total += frame.height
        return total
    with path.open("wb") as handle:
        for index, frame in enumerate(frames(events=events, seed=seed)):
            frame.write_csv(handle, include_header=index == 0, datetime_format=_ISO)
            total += frame.height
    return total


_ISO = "%Y-%m-%dT%H:%M:%S%.6f%:z"


def _cloudevents(frame: pl.DataFrame) -> pl.DataFrame:
    """The events as CloudEvents 1.0, as an event-sourced order service would emit them."""
    return frame.select(
        pl.lit("1.0").alias("specversion"),
        pl.col("event_id").alias("id"),
        pl.lit("/order-to-cash").alias("source"),
        pl.col("activity").alias("type"),
        pl.col("case_id").alias("subject"),
        pl.col("timestamp").dt.strftime(_ISO).alias("time"),
        pl.col("correlation_id").alias("correlationid"),
        pl.col("causation_id").alias("causationid"),
        pl.struct(
            "lifecycle",
            "resource",
            "amount",
            "region",
            "channel",
            pl.col("arrived_at").dt.strftime(_ISO),
        ).alias("data"),
    )
