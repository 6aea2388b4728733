"""Stored projections: a projection's result kept in the store with the position it covers.

A result is an Arrow IPC frame. A catch-up that changes only some cases records just their
rows (`StoredProjections.change`); once the changes outweigh a fifth of the frame, it is
stored whole again. Stored results are derived data: deleting them loses nothing, they are
computed again from the events. A result read or written by this process stays in memory
while the stored position is unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace

import polars as pl
import pyarrow as pa

from workbench.events import StoreReadOnly, UnknownLog
from workbench.store.names import LogName
from workbench.store.recorder import ProjectionRecorder, now_micros
from workbench.store.records import StoredProjection


def _ipc(frame: pl.DataFrame) -> bytes:
    sink = pa.BufferOutputStream()
    frame.write_ipc(sink, compression="lz4")
    return bytes(sink.getvalue().to_pybytes())


def _replaced(frame: pl.DataFrame, rows: pl.DataFrame, cases: Sequence[str]) -> pl.DataFrame:
    """``frame`` with the rows of ``cases`` replaced by ``rows``."""
    kept = frame.filter(~pl.col("case_id").is_in(list(cases)))
    if rows.is_empty():
        return kept
    return pl.concat([kept, rows.select(kept.columns)], how="vertical_relaxed")


class StoredProjections:
    """The stored results of projections, per log (or view) and name."""

    def __init__(self, recorder: ProjectionRecorder) -> None:
        self.recorder = recorder
        # (log, name, at) -> (frame, position), for results this process read or wrote.
        self._memory: dict[tuple[str, str, int], tuple[pl.DataFrame, int]] = {}

    def _key(self, log: str) -> tuple[int, str]:
        """The stored log's id and the view (object type, or '') a name refers to."""
        log_id = self.recorder.log_id(log)
        if log_id is not None:
            return log_id, ""
        name = LogName.parse(log)
        log_id = self.recorder.log_id(name.log)
        if log_id is None or name.object_type is None:
            raise UnknownLog(log)
        return log_id, name.object_type

    def save(
        self,
        log: str,
        name: str,
        frame: pl.DataFrame,
        *,
        position: int,
        at: int = 0,
        seconds: float = 0.0,
    ) -> None:
        """Store a result under ``name`` (and ``at``), covering events to ``position``."""
        log_id, view = self._key(log)
        try:
            self.recorder.save_projection(
                log_id, view, name, at, position, now_micros(), seconds, _ipc(frame)
            )
        except StoreReadOnly:  # a store that can only be read computes, but keeps nothing
            return
        self._memory[(log, name, at)] = (frame, position)

    def change(
        self,
        log: str,
        name: str,
        rows: pl.DataFrame,
        replaced: Sequence[str],
        *,
        position: int,
        at: int = 0,
        seconds: float = 0.0,
    ) -> pl.DataFrame:
        """Record that the cases ``replaced`` of a stored result now have the rows ``rows``
        (keyed by ``case_id``), as of ``position``: a catch-up writes only what changed.
        Returns the result with the change applied."""
        current = self.load(log, name, at=at)
        if current is None:
            raise ValueError(f"nothing stored as {name!r} for {log!r}")
        frame = _replaced(current[0], rows, replaced)
        log_id, view = self._key(log)
        pending = self.recorder.pending_change_rows(log_id, view, name, at)
        if (pending + rows.height) * 5 > frame.height:
            self.save(log, name, frame, position=position, at=at, seconds=seconds)
            return frame
        try:
            self.recorder.add_projection_change(
                log_id,
                view,
                name,
                at,
                position,
                now_micros(),
                seconds,
                json.dumps(list(replaced)),
                rows.height,
                _ipc(rows),
            )
        except StoreReadOnly:
            return frame
        self._memory[(log, name, at)] = (frame, position)
        return frame

    def load(self, log: str, name: str, *, at: int = 0) -> tuple[pl.DataFrame, int] | None:
        """A stored result (with its recorded changes applied) and the position it covers,
        or None."""
        log_id, view = self._key(log)
        position = self.recorder.projection_position(log_id, view, name, at)
        if position is None:
            return None
        cached = self._memory.get((log, name, at))
        if cached is not None and cached[1] == position:
            return cached
        found = self.recorder.load_projection(log_id, view, name, at)
        if found is None:
            return None
        data, position, changes = found
        frame = pl.read_ipc(data)
        for replaced, rows in changes:
            frame = _replaced(frame, pl.read_ipc(rows), json.loads(replaced))
        self._memory[(log, name, at)] = (frame, position)
        return frame, position

    def list(self, log: str | None = None) -> list[StoredProjection]:
        """What is stored: for one log (or view), or for all."""
        if log is None:
            return self.recorder.projection_rows(None, None)
        log_id, view = self._key(log)
        return [replace(row, log=log) for row in self.recorder.projection_rows(log_id, view)]

    def forget(self, log: str, name: str | None = None) -> None:
        """Delete stored results of a log (all, or those called ``name``)."""
        self.evict(log, name)
        log_id, view = self._key(log)
        self.recorder.forget_projections(log_id, view, name)

    def evict(self, log: str, name: str | None = None) -> None:
        """Forget what this process keeps in memory for a log (and its views)."""
        for key in list(self._memory):
            if LogName.parse(key[0]).log in (log, LogName.parse(log).log) and name in (
                None,
                key[1],
            ):
                del self._memory[key]
