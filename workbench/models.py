"""Process models as Workbench holds them, and pm4py, which makes and reads them.

The lowest layer of mining: `workbench.mining` (discovery, conformance) and
`workbench.replay` (token replay) both build on it.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from workbench.events import WorkbenchError


class ModelError(WorkbenchError):
    """A process model cannot be read, written or used."""


@contextmanager
def quiet() -> Iterator[None]:
    """pm4py's warnings stay off the user's terminal (and out of its own checks, which read
    a warning turned into an error as a failed check)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def pm4py() -> Any:
    """pm4py, imported quietly (no banner, no progress bars)."""
    os.environ.setdefault("PM4PY_SHOW_PROGRESS_BAR", "False")
    sys._pm4py_welcome_shown = True  # type: ignore[attr-defined]
    import pm4py as module
    from pm4py.util import constants

    # The environment is read when pm4py is first imported, which may have been elsewhere.
    constants.SHOW_PROGRESS_BAR = False
    return module


@dataclass
class Model:
    """A Petri net with its markings; the process tree and BPMN when the algorithm gives them."""

    net: Any
    initial: Any
    final: Any
    algorithm: str
    tree: Any = None
    bpmn: Any = None
    notes: tuple[str, ...] = ()  # what a reader should know before trusting results on it

    def net_only(self) -> Model:
        """The Petri net and its markings alone: what a worker process needs, and what
        pickles (pm4py's BPMN objects do not)."""
        return Model(self.net, self.initial, self.final, self.algorithm, tree=self.tree)

    def summary(self) -> dict[str, int]:
        """Places, transitions (visible and silent) and arcs of the net."""
        visible = sum(1 for t in self.net.transitions if t.label is not None)
        return {
            "places": len(self.net.places),
            "transitions": len(self.net.transitions),
            "visible_transitions": visible,
            "arcs": len(self.net.arcs),
        }
