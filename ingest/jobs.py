"""Ingest jobs: one recorded, resumable run of an importer into the store."""

from __future__ import annotations

import contextlib
import hashlib
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import polars as pl

from ingest import columnar, jsonl, ocel
from ingest import csv as csv_format
from ingest import xes as xes_format
from ingest.batch import Batch
from ingest.errors import IngestError
from ingest.formats import detect_format, sniff
from ingest.mapping import ColumnMapping
from ingest.options import ParseOptions
from workbench.events import WorkbenchError
from workbench.store import EventStore, JobProgress, Prepared, prepare

Progress = Callable[[int], None]  # called with the number of source rows read so far

READERS: dict[str, Callable[..., Iterator[Batch]]] = {
    "csv": csv_format.read,
    "xes": xes_format.read,
    "parquet": columnar.read_parquet,
    "arrow": columnar.read_arrow,
    "jsonl": jsonl.read,
    "ocel2-json": ocel.read_ocel2_json,
    "ocel2-xml": ocel.read_ocel2_xml,
    "ocel2-sqlite": ocel.read_ocel2_sqlite,
    "ocel1-json": ocel.read_ocel1_json,
    "ocel1-xml": ocel.read_ocel1_xml,
    "ocel1-csv": ocel.read_ocel1_csv,
}


#: An import that adds at least this many events refreshes the planner's statistics.
ANALYZE_AFTER = 100_000


@dataclass(frozen=True)
class Summary:
    """The outcome of one ingest job, as `workbench ingest --json` prints it."""

    log: str
    events_read: int
    events_added: int
    duplicates: int
    rejected: int
    job_id: int
    status: str
    format: str
    source: str
    seconds: float
    message: str | None = None
    links_refused: int = 0  # links to objects (or from events) the log does not define
    resumed_after: int = 0  # rows an earlier, interrupted run of this job had committed

    def as_dict(self) -> dict[str, Any]:
        """The summary as plain JSON-ready values."""
        return asdict(self)


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def log_name(path: Path) -> str:
    """The default log name of a file: its name without the format's extensions."""
    name = path.name
    for suffix in (
        ".gz",
        ".csv",
        ".tsv",
        ".txt",
        ".xes",
        ".parquet",
        ".arrow",
        ".feather",
        ".jsonl",
        ".ndjson",
        ".json",
        ".jsonocel",
        ".xmlocel",
        ".sqlite",
        ".ocel2",
        ".ocel1",
        ".ocel",
    ):
        name = name.removesuffix(suffix)
    return name or path.name


def ingest(
    store: EventStore,
    path: Path | str,
    *,
    log: str | None = None,
    mapping: ColumnMapping | None = None,
    options: ParseOptions | None = None,
    strict: bool = False,
    format: str | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    source: str | None = None,
    start_row: int = 0,
    actor: str | None = None,
) -> Summary:
    """Import a file into a log as one job; the same content imported again is a no-op.

    A job that was interrupted resumes after its last committed batch. Rows that cannot be
    imported are recorded as rejects, unless ``strict``, which refuses the whole file and
    stores nothing when any row is bad. A fault part-way through the file (broken XML, a
    truncated download) keeps the whole batches before it: the job is ``partial`` and its
    message names the place. Raises `IngestError` when nothing can be imported. When
    ``stop`` is set (Ctrl-C), the job ends after the batch it is writing, as interrupted,
    and raises KeyboardInterrupt; importing the file again resumes it.

    ``source`` names the file in the job's record when ``path`` is a copy of it (a file
    being followed); ``start_row`` skips the source rows an earlier job already took (they
    are still read, so derived ids number repeats across the whole file). ``actor`` is who
    imports (a user of `workbench users`, or the machine's user), kept in the job's record.
    """
    started = time.perf_counter()
    path = Path(path)
    head = sniff(path)
    kind = format or detect_format(path, head)
    if kind not in READERS:
        raise IngestError(f"{path}: unknown format {kind!r} (formats: {', '.join(READERS)})")
    read = READERS[kind]
    log = log or log_name(path)
    mapping = mapping or ColumnMapping()
    options = options or ParseOptions()
    _check_times(store, log, options, path)
    digest = sha256_of(path)
    done = store.ledger.completed(log, digest)
    if done is not None:
        return Summary(
            log=log,
            events_read=0,
            events_added=0,
            duplicates=0,
            rejected=0,
            job_id=done.job_id,
            status="unchanged",
            format=kind,
            source=source or str(path),
            seconds=round(time.perf_counter() - started, 3),
            message=f"this content was imported into {log!r} by job {done.job_id}; nothing to do",
        )
    if strict:
        _refuse_bad_rows(read, path, mapping, options)
    job_id, committed = store.ledger.start(
        log, source or str(path), digest, kind, mapping.as_dict(), actor=actor
    )
    # A resumed job's record counts its earlier runs too; this run reports its own.
    earlier = store.ledger.jobs(job_id=job_id)[0] if committed else None
    resumed_after = committed
    committed = max(committed, start_row)
    seen = refused = 0  # source rows read, and links refused (rejects without a line)
    # A job filling an empty log writes without looking its ids up first, while the log
    # holds only its own events (`EventStore.import_frame`).
    own_head = 0 if committed == 0 and (not store.has_log(log) or store.head(log) == 0) else None
    try:
        batches = read(path, mapping=mapping, options=options, skip_rows=committed)
        for batch, events in read_ahead(batches):
            if stop is not None and stop.is_set():
                raise KeyboardInterrupt
            if seen == 0:
                store.ledger.set_mapping(job_id, batch.mapping.as_dict())
            seen += batch.rows
            refused += batch.rejects.filter(pl.col("line").is_null()).height
            result = store.import_frame(
                log,
                events,
                job=JobProgress(job_id=job_id, rows=committed + seen, rejects=batch.rejects),
                objects=batch.objects,
                head=own_head,
            )
            if own_head is not None and result.position is not None:
                own_head = result.position
            if progress is not None:
                progress(committed + seen)
    except (IngestError, WorkbenchError, pl.exceptions.PolarsError, OSError) as error:
        fault: IngestError | None = (
            error if isinstance(error, IngestError) else IngestError(f"{path}: {error}")
        )
    except BaseException:  # Ctrl-C, or a bug: what was committed stays, and can resume
        store.ledger.finish(
            job_id,
            status="interrupted",
            seconds=time.perf_counter() - started,
            message="interrupted after the last committed batch; import the file again to resume",
        )
        raise
    else:
        fault = None
    record = store.ledger.jobs(job_id=job_id)[0]
    stored = record.events_added + record.duplicates
    if stored == 0:
        message = (
            str(fault)
            if fault is not None
            else (
                f"{path}: no event could be imported: all {record.rejected} rows were rejected"
                f" (see `workbench rejects {log}`)"
            )
        )
        store.ledger.finish(
            job_id, status="failed", seconds=time.perf_counter() - started, message=message
        )
        raise fault or IngestError(message)
    # Whole batches before a fault in the file are kept: the job is partial and says where.
    status = "completed" if fault is None else "partial"
    record = store.ledger.finish(
        job_id,
        status=status,
        seconds=time.perf_counter() - started,
        message=None if fault is None else str(fault),
    )

    def this_run(name: str) -> int:
        """A count of the job's record, less what earlier runs of a resumed job counted."""
        return int(getattr(record, name)) - (int(getattr(earlier, name)) if earlier else 0)

    if this_run("events_added") >= ANALYZE_AFTER:
        store.analyze()  # so that the next import and reads are planned for this data
    return Summary(
        log=log,
        events_read=this_run("events_read"),
        events_added=this_run("events_added"),
        duplicates=this_run("duplicates"),
        rejected=this_run("rejected"),
        job_id=job_id,
        status=status,
        format=kind,
        source=source or str(path),
        seconds=record.seconds or 0.0,
        message=record.message,
        links_refused=refused,
        resumed_after=resumed_after,
    )


def _check_times(store: EventStore, log: str, options: ParseOptions, path: Path) -> None:
    """A log has times or has none: refuse to mix events with and without times."""
    if not store.has_log(log):
        return
    timed = store.summary(log).timed
    if timed and not options.timed:
        raise IngestError(
            f"{path}: the log {log!r} has times; import this file without --no-times, or into"
            " another log"
        )
    if not timed and options.timed:
        raise IngestError(
            f"{path}: the log {log!r} was imported without times; import this file with"
            " --no-times too, or into another log"
        )


def read_ahead(batches: Iterable[Batch], depth: int = 1) -> Iterator[tuple[Batch, Prepared]]:
    """Read and prepare the next batch on a thread while the caller writes this one.

    Parsing and preparing (Polars) and writing (SQLite) all release the GIL, so on two
    cores they overlap; ``depth`` bounds how many prepared batches wait in memory.
    """
    slots: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                if stop.is_set():
                    return
                slots.put(("batch", (batch, prepare(batch.frame()))))
        except BaseException as error:  # handed to the consumer, which re-raises it
            slots.put(("error", error))
        else:
            slots.put(("done", None))

    worker = threading.Thread(target=produce, name="ingest-reader", daemon=True)
    worker.start()
    try:
        while True:
            kind, item = slots.get()
            if kind == "done":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            with contextlib.suppress(queue.Empty):
                slots.get(timeout=0.05)
        worker.join()


def _refuse_bad_rows(
    read: Callable[..., Iterator[Batch]], path: Path, mapping: ColumnMapping, options: ParseOptions
) -> None:
    """For ``--strict``: read the whole file first and refuse it if any row is bad."""
    rejects = [
        batch.rejects
        for batch in read(path, mapping=mapping, options=options)
        if batch.rejects.height
    ]
    if rejects:
        bad = pl.concat(rejects)
        first = bad.row(0, named=True)
        raise IngestError(
            f"{path}: line {first['line']}, field {first['field']!r}: {first['reason']}; "
            f"{bad['line'].n_unique()} bad row(s) in all, and --strict refuses the whole file "
            "(nothing was stored)"
        )
