"""Values kept in memory within a budget of bytes, least recently used first.

The app keeps read logs (`workbench.application.Workbench`) and the answers its pages show
(`dashboards.state`) this way: bounded by what they hold, not by how many there are, so a
ten-million-event log is held once with the few answers that fit beside it. Keys are
``(scope, head, rest)``: a value of a scope (a log) at an older head position goes as soon
as one at a newer head is kept, since the log has moved on.
"""

from __future__ import annotations

import random
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import fields, is_dataclass
from typing import Any, Final, Generic, TypeVar

import polars as pl

V = TypeVar("V")
T = TypeVar("T")
Key = tuple[Hashable, int, Hashable]
SAMPLE: Final = 256  # items of a container weighed (more: a sample this large, scaled)


def size_of(value: Any) -> int:
    """The bytes a value holds, roughly: frames and series by their buffers, containers and
    dataclasses by what they hold. A container of more than `SAMPLE` items is judged by
    `SAMPLE` of them, so that weighing an answer of a hundred thousand cases
    costs no more than weighing one of a hundred.

    >>> size_of(pl.DataFrame({"a": [1, 2, 3]}))
    24
    """
    if isinstance(value, pl.DataFrame | pl.Series):
        return int(value.estimated_size())
    if is_dataclass(value) and not isinstance(value, type):
        return sum(size_of(getattr(value, item.name)) for item in fields(value))
    if isinstance(value, dict):
        return _sampled(value.items(), len(value), lambda kv: size_of(kv[0]) + size_of(kv[1]))
    if isinstance(value, list | tuple | set | frozenset):
        return sys.getsizeof(value) + _sampled(value, len(value), size_of)
    return sys.getsizeof(value)


def _sampled(items: Iterable[T], count: int, size: Callable[[T], int]) -> int:
    """The summed ``size`` of ``count`` items, from `SAMPLE` of them when there are more,
    drawn at random (with a fixed seed: the same items weigh the same), so that no pattern
    in the items meets one in the sample."""
    if count <= SAMPLE:
        return sum(size(item) for item in items)
    wanted = sorted(random.Random(count).sample(range(count), SAMPLE))
    if isinstance(items, list | tuple):
        taken = [size(items[i]) for i in wanted]
    else:
        chosen = set(wanted)
        taken = [size(item) for i, item in enumerate(items) if i in chosen]
    return round(sum(taken) * count / SAMPLE)


class BoundedCache(Generic[V]):
    """Values by ``(scope, head, rest)``, least recently used first, within ``budget``
    bytes: the most recent value is kept even when it alone is over the budget."""

    def __init__(self, budget: int, size: Callable[[V], int] = size_of) -> None:
        self.budget = budget
        self.size = size
        self.values: OrderedDict[Key, tuple[V, int]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Key, compute: Callable[[], V]) -> V:
        """The value kept under ``key``, else ``compute()``, kept."""
        found = self.find(key)
        if found is not None:
            return found[0]
        value = compute()
        self.put(key, value)
        return value

    def find(self, key: Key) -> tuple[V] | None:
        """The value under ``key`` (in a tuple, since None may be a value), if kept."""
        with self.lock:
            if key in self.values:
                self.values.move_to_end(key)
                return (self.values[key][0],)
        return None

    def put(self, key: Key, value: V) -> None:
        """Keep a value, dropping the scope's values at other heads and then the least
        recently used until the rest fits."""
        held = self.size(value)
        scope, head, _ = key
        with self.lock:
            for old in [k for k in self.values if k[0] == scope and k[1] != head]:
                del self.values[old]
            self.values[key] = (value, held)
            self.values.move_to_end(key)
            while len(self.values) > 1 and self.held() > self.budget:
                self.values.popitem(last=False)

    def held(self) -> int:
        """Bytes held."""
        return sum(held for _, held in self.values.values())

    def clear(self, scope: Hashable | None = None) -> None:
        """Forget the values of a scope, or every value."""
        with self.lock:
            for key in [k for k in self.values if scope is None or k[0] == scope]:
                del self.values[key]
