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
