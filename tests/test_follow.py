"""Following a growing source: every complete line once, a broken line rejected, a line
still being written imported when it is complete, and nothing twice after a kill."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

from ingest.follow import follow_file, follow_folder
from workbench import EventStore

HEADER = "case,activity,time\n"


def _line(case: int, step: int) -> str:
    return f"c{case},step {step},2024-01-0{1 + step % 9}T{10 + case % 10}:00:00\n"


def _events(db: Path, log: str) -> pl.DataFrame:
    with EventStore(db) as store:
        return store.read(log) if store.has_log(log) else pl.DataFrame()


def test_a_growing_csv_is_imported_line_by_line_once(tmp_path) -> None:
    source = tmp_path / "live.csv"
    db = tmp_path / "s.db"
    source.write_text(HEADER + "".join(_line(c, 0) for c in range(5)))
    reports = []
    with EventStore(db) as store:

        def round_() -> None:
            follow_file(store, source, log="live", once=True, report=reports.append)

        round_()
        assert store.read("live").height == 5
        with source.open("a") as handle:  # two good lines, a broken one, half a line
            handle.write(_line(5, 1) + "c6,,2024-01-02T10:00:00\n" + _line(7, 1))
            handle.write("c8,step 2,2024-01-03T1")
        round_()
        assert store.read("live").height == 7
        rejects = store.ledger.rejects("live")
        assert rejects.height == 1
        assert rejects["line"].to_list() == [8]  # the file's own line number
        with source.open("a") as handle:  # the half line completed, and one more
            handle.write("1:00:00\n" + _line(9, 2))
        round_()
        round_()  # nothing new: nothing happens
        events = store.read("live")
    assert events.height == 9
    assert sorted(events["case_id"].to_list()) == sorted(
        [f"c{c}" for c in (0, 1, 2, 3, 4, 5, 7, 8, 9)]
    )
    assert events["event_id"].n_unique() == 9
    assert [r.events_added for r in reports] == [5, 2, 2, 0]
    assert reports[-1].status == "unchanged"


def test_a_folder_imports_each_file_once_it_stops_growing(tmp_path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "a.csv").write_text(HEADER + _line(1, 0) + _line(2, 0))
    with EventStore(tmp_path / "s.db") as store:
        follow_folder(store, folder, log="drops", once=True)
        (folder / "b.csv").write_text(HEADER + _line(3, 0))
        follow_folder(store, folder, log="drops", once=True)
        follow_folder(store, folder, log="drops", once=True)  # again: nothing twice
        assert store.read("drops").height == 3


def _wait_for(db: Path, log: str, count: int) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if _events(db, log).height >= count:
                return
        except Exception:  # the store is being written: look again
            pass
        time.sleep(0.2)
    raise AssertionError(f"{log} did not reach {count} events")


def test_killed_and_started_again_the_follower_stores_nothing_twice(tmp_path) -> None:
    source = tmp_path / "live.jsonl"
    db = tmp_path / "s.db"

    def append(cases: range) -> None:
        with source.open("a") as handle:
            for case in cases:
                moment = f"2024-01-01T{case % 24:02d}:00:00"
                handle.write(f'{{"case": "c{case}", "activity": "step", "time": "{moment}"}}\n')

    append(range(0, 40))
    command = [
        sys.executable, "-m", "workbench", "--db", str(db), "ingest", str(source),
        "--log", "live", "--follow", "--poll", "0.2",
    ]  # fmt: skip
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(db, "live", 40)
        append(range(40, 80))
        time.sleep(0.3)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    append(range(80, 100))
    second = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(db, "live", 100)
    finally:
        second.send_signal(signal.SIGINT)
        second.wait(timeout=60)
    events = _events(db, "live")
    assert events.height == 100
    assert sorted(events["case_id"].to_list()) == sorted(f"c{n}" for n in range(100))
    assert db.exists()


def test_a_header_waits_for_rows_and_messages_name_the_file_followed(tmp_path) -> None:
    source = tmp_path / "live.csv"
    source.write_text(HEADER)
    reports = []
    with EventStore(tmp_path / "s.db") as store:
        follow_file(store, source, log="live", once=True, report=reports.append)
        assert reports == []  # a header alone is not a failed round: its rows are to come
        source.write_text(HEADER + "c1,,2024-01-01T10:00:00\n")  # only a refused row
        follow_file(store, source, log="live", once=True, report=reports.append)
        with source.open("a") as handle:
            handle.write("c1,a,2024-01-01T10:00:00\n")
        follow_file(store, source, log="live", once=True, report=reports.append)
    assert [r.status for r in reports] == ["failed", "completed"]
    assert reports[0].message is not None
    assert reports[0].message.startswith(str(source))
    assert "workbench-follow-" not in reports[0].message


def test_sigterm_stops_a_follower_as_ctrl_c_does(tmp_path) -> None:
    source = tmp_path / "live.csv"
    db = tmp_path / "s.db"
    source.write_text(HEADER + "".join(_line(c, 0) for c in range(10)))
    command = [
        sys.executable, "-m", "workbench", "--db", str(db), "ingest", str(source),
        "--log", "live", "--follow", "--poll", "0.2",
    ]  # fmt: skip
    follower = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(db, "live", 10)
    finally:
        follower.send_signal(signal.SIGTERM)
        _, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err  # the follower ends its round and returns
    assert "Traceback" not in err
    with EventStore(db) as store:
        assert all(job.status != "running" for job in store.ledger.jobs())
        assert store.read("live").height == 10


def test_a_follower_fires_a_rule_violation_at_the_line_that_makes_it_certain(tmp_path) -> None:
    """`ingest --follow` with a `violates` alert: each round advances the cases' states by
    its new lines, and the alert fires (and says so) at the line after which the case can
    no longer keep the rule, not before."""
    source = tmp_path / "orders.csv"
    db = tmp_path / "s.db"
    source.write_text(HEADER + "o1,order,2024-01-01T10:00:00\no2,order,2024-01-01T11:00:00\n")
    with EventStore(db) as store:
        follow_file(store, source, log="orders", once=True, report=lambda _: None)
    run = [sys.executable, "-m", "workbench", "--db", str(db)]
    added = subprocess.run(
        [*run, "alerts", "add", "unapproved", "--log", "orders",
         "--violates", "precedence(approve, pay)"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    command = [*run, "ingest", str(source), "--log", "orders", "--follow", "--poll", "0.2"]
    follower = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(db, "orders", 2)
        with source.open("a") as handle:  # o1 is approved, then paid: fine
            handle.write("o1,approve,2024-01-02T10:00:00\no1,pay,2024-01-03T10:00:00\n")
        _wait_for(db, "orders", 4)
        with source.open("a") as handle:  # o2 is paid unapproved: certain at once
            handle.write("o2,ship,2024-01-02T11:00:00\no2,pay,2024-01-03T11:00:00\n")
        _wait_for(db, "orders", 6)
        time.sleep(1.0)  # the round's checks follow its import
    finally:
        follower.send_signal(signal.SIGTERM)
        out, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err
    assert "alert unapproved fired: case o2 violates precedence(approve, pay)" in out
    assert out.count("alert unapproved fired") == 1
    with EventStore(db) as store:
        paid = (
            store.read("orders")
            .filter((pl.col("case_id") == "o2") & (pl.col("activity") == "pay"))["position"]
            .item()
        )
        firings = [(f.rule, f.position) for f in store.rules.firings()]
    assert firings == [("unapproved", paid)]
