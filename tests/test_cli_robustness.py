"""Every command over hostile data and hostile stores: names and values full of markup
characters, a read-only copy of the store, a store another process holds; always the right
output or one line and exit code 2, never a traceback."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench.cli import app

LOG = "weird [bold] *x* _y_ `z` $w$"
CSV = """case,activity,time,resource,note,amount
"Case [1]","Check [manual]",2024-01-01T09:00,"_ana_","`tick`",1
"Case [1]","[/bold]",2024-01-01T10:00,"*ben*","$x$",2
"Case [1]","*done*",2024-01-01T12:00,"_ana_","[red]",3
"Case [2]","Check [manual]",2024-01-02T09:00,"_ana_","[link=x]y[/link]",4
"Case [2]","*done*",2024-01-02T11:00,"*ben*","**",5
"""


def _commands(tmp: Path) -> list[tuple[str, ...]]:
    """One invocation of every command (and subcommand) that reads or writes a log."""
    model = tmp / "model.pnml"
    return [
        ("logs",),
        ("logs", "--json"),
        ("jobs",),
        ("rejects", LOG),
        ("stats", LOG),
        ("stats", LOG, "--json"),
        ("dfg", LOG),
        ("dfg", LOG, "--dot"),
        ("dfg", LOG, "--json", "--activity", "Check [manual]"),
        ("state", LOG, "--at", "2024-01-01T11:00"),
        ("state", LOG, "--at", "2024-01-03", "--format", "json"),
        ("diff", LOG, "--from", "2024-01-01", "--to", "2024-01-03"),
        ("timeline", LOG, "Case [1]"),
        ("timeline", LOG, "Case [1]", "--json"),
        ("why", LOG),
        ("projections",),
        ("discover", LOG, "--output", str(model)),
        ("conformance", LOG, "--model", str(model)),
        ("export", LOG, "--format", "csv", "--output", str(tmp / "out.csv")),
    ]


@pytest.fixture
def weird(tmp_path: Path) -> Path:
    source = tmp_path / "weird.csv"
    source.write_text(CSV, encoding="utf-8")
    db = tmp_path / "weird.db"
    result = CliRunner().invoke(app, ["--db", str(db), "ingest", str(source), "--log", LOG])
    assert result.exit_code == 0, result.output
    return db


def _run(db: Path, *args: str, timeout: float = 60) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--db", str(db), "--timeout", str(timeout), *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{args}: {result.exception!r}") from result.exception
    return result.exit_code, result.stdout, result.stderr


def test_data_is_never_markup_in_any_command_11(weird, tmp_path) -> None:
    outputs = {}
    for args in _commands(tmp_path):
        code, out, err = _run(weird, *args)
        assert code == 0, (args, out, err)
        assert "Traceback" not in out + err
        outputs[args] = out
    assert LOG in outputs[("logs",)]
    stats = outputs[("stats", LOG)]
    for text in ("Check [manual]", "[/bold]", "*done*"):
        assert text in stats
    assert "[/bold]" in outputs[("dfg", LOG)]
    assert "Case [1]" in outputs[("state", LOG, "--at", "2024-01-01T11:00")]
    assert "*ben*" in outputs[("timeline", LOG, "Case [1]")]
    rows = json.loads(outputs[("timeline", LOG, "Case [1]", "--json")])
    assert [row["activity"] for row in rows] == ["Check [manual]", "[/bold]", "*done*"]
    notes = [
        json.loads(line)
        for line in [outputs[("state", LOG, "--at", "2024-01-03", "--format", "json")]]
    ]
    assert {row["note"] for row in notes[0]} == {"[red]", "**"}
    exported = (tmp_path / "out.csv").read_text(encoding="utf-8")
    assert "[link=x]y[/link]" in exported


def test_writing_commands_with_markup_in_their_arguments(weird, tmp_path) -> None:
    for args, expected in (
        (
            (
                "projections",
                "add",
                "[b]odd",
                "SELECT activity, count(*) AS n FROM events GROUP BY 1",
            ),
            0,
        ),
        (("projections", "refresh", LOG), 0),
        (("projections", "remove", "[b]odd"), 0),
        (("projections", "add", "bad", "DROP TABLE events"), 2),
        (("projections", "snapshot", LOG, "--count", "2"), 0),
        (("rejects", "no [such] log"), 2),
        (("stats", "no [such] log"), 2),
        (("drop", LOG), 2),
        (("drop", LOG, "--yes"), 0),
    ):
        code, out, err = _run(weird, *args)
        assert code == expected, (args, out, err)
        assert "Traceback" not in out + err
        if expected == 2:
            assert err.startswith("error: "), (args, err)


def _read_only_mount() -> bool:
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount --bind / /mnt && mount -o remount,bind,ro /mnt"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


@pytest.mark.slow
def test_every_command_on_a_read_only_store_11(weird, tmp_path) -> None:
    if shutil.which("unshare") is None or not _read_only_mount():
        pytest.skip("needs a read-only bind mount (unshare -m, as root)")
    folder = tmp_path / "copy"
    folder.mkdir()
    shutil.copy(weird, folder / "store.db")
    mount = tmp_path / "ro"
    mount.mkdir()
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    reads = [args for args in _commands(outputs) if args[0] not in ("discover", "conformance")]
    writes = [("ingest", str(tmp_path / "weird.csv"), "--log", "other"), ("drop", LOG, "--yes")]
    script = [f"mount --bind {folder} {mount}", f"mount -o remount,bind,ro {mount}"]
    for index, args in enumerate([*reads, *writes]):
        command = [sys.executable, "-m", "workbench", "--db", str(mount / "store.db"), *args]
        quoted = " ".join(_quote(part) for part in command)
        script.append(
            f"{quoted} > {outputs}/{index}.out 2> {outputs}/{index}.err;"
            f" echo $? > {outputs}/{index}.code"
        )
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", " && ".join(script[:2]) + "; " + "; ".join(script[2:])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for index, args in enumerate([*reads, *writes]):
        code = int((outputs / f"{index}.code").read_text())
        out = (outputs / f"{index}.out").read_text()
        err = (outputs / f"{index}.err").read_text()
        assert "Traceback" not in out + err, (args, err)
        if args in writes:
            assert code == 2, (args, out, err)
            assert "read-only" in err, err
        else:
            assert code == 0, (args, out, err)
    assert LOG in (outputs / "0.out").read_text()


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


@pytest.mark.slow
def test_every_command_on_a_store_another_process_writes_11(weird, tmp_path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            f"c = sqlite3.connect({str(weird)!r}, isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE')\n"
            "print('locked', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        for args in _commands(tmp_path):
            if args[0] in ("discover", "conformance"):
                continue
            code, out, err = _run(weird, *args, timeout=1)
            assert "Traceback" not in out + err
            assert code in (0, 2), (args, err)
            if code == 2:  # only what must write may wait, and then it says why
                assert "write lock" in err, (args, err)
        for args in (
            ("ingest", str(tmp_path / "weird.csv"), "--log", "other"),
            ("drop", LOG, "--yes"),
        ):
            code, out, err = _run(weird, *args, timeout=1)
            assert code == 2, (args, out, err)
            assert err.startswith("error: store "), err
            assert "write lock" in err, err
        assert time.monotonic() - started < 60
    finally:
        holder.kill()
        holder.communicate()


def test_a_filter_on_an_attribute_the_log_lacks_is_one_line_25(tmp_path) -> None:
    from datetime import UTC, datetime

    from workbench import Event, EventStore

    db = tmp_path / "s.db"
    with EventStore(db) as store:
        store.append("log", "c1", [Event("a", datetime(2024, 1, 1, tzinfo=UTC))])
    for command in (["stats", "log"], ["dfg", "log"], ["state", "log", "--at", "2024-02-01"]):
        result = CliRunner().invoke(app, ["--db", str(db), *command, "--attribute", "colour=red"])
        assert result.exit_code == 2
        assert result.stderr.strip() == "error: log: the log has no attribute 'colour' to filter on"
