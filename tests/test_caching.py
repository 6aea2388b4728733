"""The app's caches hold values within a budget of bytes, newest head only."""

from __future__ import annotations

import polars as pl

from workbench.caching import BoundedCache, size_of


def frame(rows: int) -> pl.DataFrame:
    return pl.DataFrame({"a": list(range(rows))})  # 8 bytes a row


def test_the_least_recently_used_go_first_until_the_rest_fits() -> None:
    cache: BoundedCache[pl.DataFrame] = BoundedCache(budget=2_000)
    computed: list[str] = []

    def make(name: str, rows: int) -> pl.DataFrame:
        computed.append(name)
        return frame(rows)

    cache.get(("log", 1, "a"), lambda: make("a", 100))  # 800 bytes
    cache.get(("log", 1, "b"), lambda: make("b", 100))
    cache.get(("log", 1, "a"), lambda: make("a", 100))  # a hit: a is now the newest
    cache.get(("log", 1, "c"), lambda: make("c", 100))  # over the budget: b goes
    assert computed == ["a", "b", "c"]
    assert set(k[2] for k in cache.values) == {"a", "c"}
    assert cache.held() == 1_600 <= cache.budget
    big = cache.get(("log", 1, "d"), lambda: make("d", 1_000))  # alone over the budget
    assert list(cache.values) == [("log", 1, "d")]
    assert cache.get(("log", 1, "d"), lambda: make("again", 1)) is big


def test_a_newer_head_drops_the_scope_older_values_only() -> None:
    cache: BoundedCache[int] = BoundedCache(budget=10**6)
    cache.put(("orders", 5, "x"), 1)
    cache.put(("orders", 5, "y"), 2)
    cache.put(("other", 5, "x"), 3)
    cache.put(("orders", 6, "x"), 4)
    assert sorted(cache.values) == [("orders", 6, "x"), ("other", 5, "x")]
    cache.clear("other")
    assert list(cache.values) == [("orders", 6, "x")]
    assert cache.find(("orders", 5, "x")) is None
    assert cache.find(("orders", 6, "x")) == (4,)


def test_sizes_count_what_containers_and_dataclasses_hold() -> None:
    from workbench.processmap import ProcessMap

    parts = [frame(10), frame(20), frame(30), frame(40)]
    assert size_of(ProcessMap(*parts)) == 8 * 100 + 2 * size_of(None)  # and no calendar
    assert size_of({"k": frame(10)}) >= 80
    assert size_of([frame(10), frame(10)]) >= 160


def test_a_long_container_is_weighed_by_a_sample_of_its_items() -> None:
    import sys

    from workbench.caching import SAMPLE

    same = [frame(10)] * (SAMPLE * 40)  # every item alike: the sample gives the exact sum
    assert size_of(same) == sys.getsizeof(same) + 80 * len(same)
    keyed = {f"case {i}": frame(10) for i in range(len(same))}
    exact = sum(sys.getsizeof(k) + 80 for k in keyed)
    assert abs(size_of(keyed) - exact) <= 0.01 * exact
    grown = [frame(i % 100) for i in range(SAMPLE * 40)]  # sizes 0 to 792, each 40 times
    exact = sys.getsizeof(grown) + sum(8 * (i % 100) for i in range(len(grown)))
    assert abs(size_of(grown) - exact) <= 0.05 * exact
    assert size_of(set(range(SAMPLE * 10))) >= sys.getsizeof(0) * SAMPLE * 10
