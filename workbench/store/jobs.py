"""The ingest ledger: every import as a job, with its counts, its refused rows and its fate.

A job records the process and host that run it. A job that is still ``running`` although
its process is gone (killed, or its machine restarted) is shown as ``interrupted``, is
marked so when a later job starts, and is resumed by the next import of the same content.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from workbench.store.recorder import LedgerRecorder
from workbench.store.records import Job

HOST = socket.gethostname()


def is_alive(job: Job) -> bool:
    """Whether the process running a job may still be running it.

    A job of another host cannot be checked from here and counts as alive.
    """
    if job.pid is None:
        return False
    if job.host != HOST:
        return True
    if job.pid == os.getpid():
        return True
    try:
        os.kill(job.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process of that number
        return True
    return True


def _as_seen(job: Job) -> Job:
    """A job as it stands: ``interrupted`` when it claims to run but its process is gone."""
    if job.status == "running" and not is_alive(job):
        return replace(job, status="interrupted", message=job.message or "the process ended")
    return job


class Ledger:
    """The ingest jobs of a store."""

    def __init__(self, recorder: LedgerRecorder) -> None:
        self.recorder = recorder

    def start(
        self,
        log: str,
        source: str,
        sha256: str,
        format: str,
        mapping: Mapping[str, str],
        *,
        actor: str | None = None,
    ) -> tuple[int, int]:
        """Open a job, or resume an unfinished one for the same content.

        Returns the job id and the number of source rows already committed by it. A job
        for the same content that another live process is running is left to it: this
        one gets a job of its own (the events are stored once either way).
        """
        pid = os.getpid()
        for job in self.recorder.jobs(None, None):
            if job.status == "running" and not is_alive(job):
                self.recorder.set_job(job.job_id, status="interrupted", message="the process ended")
        with self.recorder.transaction() as tx:
            found = tx.resumable_job(log, sha256)
            if found is not None and _as_seen(found).status != "running":
                tx.resume_job(found.job_id, pid, HOST)
                return found.job_id, found.rows_committed
            started = datetime.now(UTC).isoformat()
            opened = tx.new_job(log, source, sha256, format, mapping, pid, HOST, started, actor)
            return opened, 0

    def set_mapping(self, job_id: int, mapping: Mapping[str, str]) -> None:
        """Record the column mapping a job settled on."""
        self.recorder.set_job(job_id, mapping=dict(mapping))

    def finish(
        self, job_id: int, *, status: str, seconds: float, message: str | None = None
    ) -> Job:
        """Close a job with its final status; returns its record."""
        self.recorder.set_job(
            job_id,
            status=status,
            finished_at=datetime.now(UTC).isoformat(),
            seconds=round(seconds, 3),
            message=message,
        )
        return self.jobs(job_id=job_id)[0]

    def completed(self, log: str, sha256: str) -> Job | None:
        """The completed job that already imported this content into this log, if any."""
        return next(
            (
                job
                for job in self.jobs(log=log)
                if job.sha256 == sha256 and job.status == "completed"
            ),
            None,
        )

    def jobs(self, *, log: str | None = None, job_id: int | None = None) -> list[Job]:
        """Ingest jobs, newest first, each with the status it has now (see `is_alive`)."""
        return [_as_seen(job) for job in self.recorder.jobs(log, job_id)]

    def rejects(self, log: str) -> pl.DataFrame:
        """The rows refused while importing into a log, with file, line, field and reason."""
        return self.recorder.rejects(log)

    def warnings(self) -> dict[str, str]:
        """Per log, what a user should know before trusting it: its newest import stopped
        part-way, or was interrupted before it finished."""
        found: dict[str, str] = {}
        for job in self.jobs():
            if job.log in found:
                continue
            name = Path(job.source).name
            if job.status == "partial":
                found[job.log] = f"the import of {name} stopped part-way: {job.message}"
            elif job.status == "failed" and not (job.events_added or job.duplicates):
                found[job.log] = (
                    f"the last import, of {name}, stored nothing: {job.message}"
                    if job.message
                    else f"the last import, of {name}, stored nothing"
                )
            elif job.status in ("interrupted", "failed") and job.rows_committed:
                found[job.log] = (
                    f"the import of {name} ended after {job.rows_committed:,} rows"
                    f" ({job.status}); import the file again to resume it"
                )
            else:
                found[job.log] = ""
        return {log: text for log, text in found.items() if text}
