"""Copy a store into another (SQLite to PostgreSQL and back), keeping what makes it the
same log: positions, revisions, event ids, transaction times, and every job, refused row,
object table, stored projection and user query.

The copy replays the source's committed writes in position order and writes each event
at its own position. A target that already holds some of them (an earlier copy) gets
only the rest: running a copy again copies nothing twice. A target whose positions are
taken by other events is refused before anything is written there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import polars as pl

from workbench.events import StoreError
from workbench.store.eventstore import EventStore, write_frame
from workbench.store.recorder import Transaction
from workbench.store.records import Objects

#: Events per copied transaction (whole committed writes of the source, joined).
CHUNK = 100_000


@dataclass(frozen=True)
class CopyReport:
    """What a copy did."""

    logs: int
    events_copied: int
    events_present: int  # already in the target (an earlier copy)
    jobs: int
    projections: int
    queries: int


def _chunks(ranges: pl.DataFrame) -> Iterator[pl.DataFrame]:
    """Consecutive committed writes of one log, about `CHUNK` events at a time."""
    start, size = 0, 0
    sizes = (ranges["last_position"] - ranges["first_position"] + 1).to_list()
    for index, count in enumerate(sizes):
        if size and size + count > CHUNK:
            yield ranges.slice(start, index - start)
            start, size = index, 0
        size += count
    if start < ranges.height:
        yield ranges.slice(start)


def copy_store(
    source: EventStore, target: EventStore, *, progress: Callable[[str], None] | None = None
) -> CopyReport:
    """Copy everything of ``source`` into ``target``; see the module's documentation."""
    if source.location == target.location:
        raise StoreError(target.location, "a store cannot be copied onto itself")
    say = progress or (lambda _: None)
    logs = source.recorder.log_rows()
    pieces = [(row.name, chunk) for row in logs for chunk in _chunks(source.ranges(row.name))]
    pieces.sort(key=lambda piece: int(piece[1]["first_position"][0]))
    held = _held(target, [row.name for row in logs])
    for log, chunk in pieces:  # refuse before anything is written
        if _copied(held, log, chunk):
            continue
        with target.recorder.transaction() as tx:
            _events_in_place(source, target, tx, log, chunk)
    with target.recorder.transaction() as tx:  # the logs first, in the source's order
        for row in logs:
            if tx.find_log(row.name) is None:
                tx.ensure_log(row.name)
    for row in logs:
        _copy_objects(source, target, row.name)
    copied = present = 0
    for log, chunk in pieces:
        if _copied(held, log, chunk):  # an earlier copy wrote these: nothing to read
            present += int((chunk["last_position"] - chunk["first_position"] + 1).sum())
            continue
        added, found = _copy_chunk(source, target, log, chunk)
        copied, present = copied + added, present + found
        say(f"{log}: positions {chunk['first_position'][0]:,} to {chunk['last_position'][-1]:,}")
    jobs = _copy_jobs(source, target)
    stored = source.projections.list()
    for result in stored:
        found_projection = source.projections.load(result.log, result.name, at=result.at)
        if found_projection is not None:
            frame, position = found_projection
            target.projections.save(
                result.log,
                result.name,
                frame,
                position=position,
                at=result.at,
                seconds=result.seconds,
            )
    queries = source.queries.list()
    for query in queries:
        target.queries.define(query.name, query.query, description=query.description)
    return CopyReport(len(logs), copied, present, jobs, len(stored), len(queries))


def _held(target: EventStore, logs: list[str]) -> dict[str, set[tuple[int, int]]]:
    """Per log, the committed writes (first and last position) the target holds."""
    held = {}
    for log in logs:
        if target.has_log(log):
            ranges = target.ranges(log)
            pairs = zip(ranges["first_position"], ranges["last_position"], strict=True)
            held[log] = {(int(first), int(last)) for first, last in pairs}
    return held


def _copied(held: dict[str, set[tuple[int, int]]], log: str, chunk: pl.DataFrame) -> bool:
    """Whether an earlier copy wrote every write of the chunk: a copy writes a write's
    events and its record in one transaction, so the record says the events are there."""
    found = held.get(log)
    return found is not None and all(
        pair in found
        for pair in zip(
            chunk["first_position"].to_list(), chunk["last_position"].to_list(), strict=True
        )
    )


def _copy_objects(source: EventStore, target: EventStore, log: str) -> None:
    objects = source.objects(log)
    if objects.is_empty():
        return
    found = Objects(
        objects=objects,
        attributes=source.object_attributes(log),
        event_objects=source.event_objects(log),
        object_objects=source.object_objects(log),
    )
    with target.recorder.transaction() as tx:
        log_id = tx.find_log(log) or tx.ensure_log(log)
        tx.write_objects(log_id, found)


def _events_in_place(
    source: EventStore, target: EventStore, tx: Transaction, log: str, ranges: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The source's events of a run of writes, and those the target already holds at the
    same positions; `StoreError` when the target holds anything else there."""
    first, last = int(ranges["first_position"][0]), int(ranges["last_position"][-1])
    events = source.read_positions(log, first, last).drop("log")
    log_id = tx.find_log(log)
    present = (
        tx.stored_ids(log_id, events.select("event_id", "case_id"))
        if log_id is not None
        else pl.DataFrame(schema={"event_id": pl.String, "position": pl.Int64})
    )
    in_place = present.join(events.select("event_id", "position"), on=["event_id", "position"])
    if in_place.height != present.height or tx.positions_taken(first, last) != in_place.height:
        raise StoreError(
            target.location,
            f"cannot copy {log!r}: positions {first:,} to {last:,} hold other events there;"
            " copy into an empty store (or one an earlier copy of this store made)",
        )
    return events, present


def _copy_chunk(
    source: EventStore, target: EventStore, log: str, ranges: pl.DataFrame
) -> tuple[int, int]:
    """Copy one run of committed writes; returns (events copied, events already there)."""
    with target.recorder.transaction() as tx:
        events, present = _events_in_place(source, target, tx, log, ranges)
        log_id = tx.find_log(log) or tx.ensure_log(log)
        fresh = events.join(present.select("event_id"), on="event_id", how="anti")
        if fresh.height:
            write_frame(tx, log_id, fresh, copied=True)
        tx.copy_ranges(log_id, ranges)
        tx.advance(int(ranges["last_position"][-1]), int(ranges["recorded_at"].max()))  # type: ignore[arg-type]
    return fresh.height, present.height


def _copy_jobs(source: EventStore, target: EventStore) -> int:
    """Copy the jobs the target lacks (the same log, file, content and start), oldest first,
    with their refused rows."""
    have = {(j.log, j.source, j.sha256, j.started_at) for j in target.ledger.jobs()}
    copied = 0
    for job in reversed(source.ledger.jobs()):
        if (job.log, job.source, job.sha256, job.started_at) in have:
            continue
        rejects = source.ledger.rejects(job.log).filter(pl.col("job_id") == job.job_id)
        with target.recorder.transaction() as tx:
            tx.insert_job(job, rejects)
        copied += 1
    return copied
