"""What the importers raise: a source that cannot be imported, one that holds no events, and
a column that cannot be told; each message names the file and, where known, the place."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from workbench.events import WorkbenchError


class IngestError(WorkbenchError):
    """A source that cannot be imported; the message names the file and, where known, the place."""


class EmptySource(IngestError):
    """A source that is readable but holds no events."""


class MappingNeeded(IngestError):
    """No column can be told to serve a required role; the user has to name it."""

    FLAGS: Final = {"case_id": "--case", "activity": "--activity", "timestamp": "--timestamp"}

    def __init__(self, source: str, missing: Sequence[str], columns: Sequence[str]) -> None:
        self.source = source
        self.missing = tuple(missing)
        self.columns = tuple(columns)
        what = ", ".join(f"{role} ({self.FLAGS[role]} COLUMN)" for role in self.missing)
        hint = (
            "; a log without times imports with --no-times" if "timestamp" in self.missing else ""
        )
        super().__init__(
            f"{source}: cannot tell which column holds the {what}; "
            f"columns: {', '.join(repr(c) for c in columns)}{hint}"
        )


def first_line(error: BaseException) -> str:
    """The first line of an error's message, for one-line reports."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
