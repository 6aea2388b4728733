"""The `workbench` command: help, JSON output, exit codes, and a README that stays true."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.conftest import real_log
from workbench.cli import app

README = Path(__file__).resolve().parent.parent / "README.md"
DOCS = README.parent / "docs"
COMMANDS = sorted(
    command.name or getattr(command.callback, "__name__", "") for command in app.registered_commands
)


def run(db: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--db", str(db), *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_ending_with_an_example(tmp_path, command) -> None:
    code, out, _ = run(tmp_path / "s.db", command, "--help")
    assert code == 0
    assert out.rstrip().splitlines()[-1].strip().startswith("Example: workbench")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_in_the_reference(command) -> None:
    assert re.search(rf"workbench( --db \S+)? {command}\b", (DOCS / "cli.md").read_text())


def test_ingest_json_summary_then_logs_json(tmp_path) -> None:
    db = tmp_path / "s.db"
    code, out, _ = run(db, "ingest", str(real_log("running-example.csv")), "--json")
    assert code == 0
    summary = json.loads(out)
    assert {"log", "events_read", "events_added", "duplicates", "rejected"} <= set(summary)
    assert (summary["log"], summary["events_added"]) == ("running-example", 42)
    code, out, _ = run(db, "logs", "--json")
    (log,) = json.loads(out)
    assert {"log", "cases", "events", "first_timestamp", "last_timestamp"} <= set(log)
    assert log["kind"] == "case"
    assert (log["cases"], log["events"]) == (6, 42)
    assert log["first_timestamp"].endswith("+00:00")
    code, out, _ = run(db, "ingest", str(real_log("running-example.csv")), "--json")
    assert json.loads(out)["events_added"] == 0


def test_bad_input_is_one_line_exit_code_2_and_no_traceback(tmp_path) -> None:
    db = tmp_path / "s.db"
    for args in (
        ["ingest", str(tmp_path / "missing.csv")],
        ["ingest", str(README)],
        ["ingest", str(real_log("running-example.csv")), "--timezone", "Mars/Olympus"],
        ["ingest", str(real_log("running-example.csv")), "--case", "nope"],
        ["rejects", "nope"],
        ["drop", "nope", "--yes"],
    ):
        code, out, err = run(db, *args)
        assert code == 2, args
        assert err.startswith("error: ")
        assert "Traceback" not in out + err
    code, out, _ = run(db, "logs", "--json")
    assert json.loads(out) == []


def test_rejects_lists_bad_rows_and_summary_points_to_it(tmp_path) -> None:
    source = tmp_path / "orders.csv"
    source.write_text("case,activity,time\nc1,a,2024-01-01\nc1,b,soon\n")
    db = tmp_path / "s.db"
    code, out, _ = run(db, "ingest", str(source))
    assert code == 0
    assert "1 rejected" in out
    assert "workbench rejects orders" in out
    code, out, _ = run(db, "rejects", "orders", "--json")
    (reject,) = json.loads(out)
    assert (reject["line"], reject["field"], reject["value"]) == (3, "time", "soon")


def test_drop_needs_yes(tmp_path) -> None:
    db = tmp_path / "s.db"
    run(db, "ingest", str(real_log("running-example.csv")))
    code, _, err = run(db, "drop", "running-example")
    assert code == 2
    assert "--yes" in err
    code, out, _ = run(db, "drop", "running-example", "--yes")
    assert code == 0
    assert "42 events removed" in out
    _, out, _ = run(db, "jobs", "--json")
    assert json.loads(out) == []


def test_jobs_lists_each_run(tmp_path) -> None:
    db = tmp_path / "s.db"
    run(db, "ingest", str(real_log("running-example.csv")))
    _, out, _ = run(db, "jobs", "--json")
    (job,) = json.loads(out)
    assert job["status"] == "completed"
    assert job["format"] == "csv"
    assert len(job["sha256"]) == 64
    assert job["mapping"]["case_id"] == "case:concept:name"


def test_db_comes_from_the_environment(tmp_path, monkeypatch) -> None:
    db = tmp_path / "env.db"
    monkeypatch.setenv("WORKBENCH_DB", str(db))
    result = CliRunner().invoke(app, ["ingest", str(real_log("running-example.csv"))])
    assert result.exit_code == 0
    assert db.exists()


def test_the_store_example_runs(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", (DOCS / "store.md").read_text(), flags=re.DOTALL)
    code = next(block for block in blocks if "NO_STREAM" in block)
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["events"].collect().height == 2  # type: ignore[attr-defined]
    assert namespace["as_it_happened"].collect().height == 1  # type: ignore[attr-defined]
    assert namespace["as_it_was_known"].collect().height == 1  # type: ignore[attr-defined]
    assert namespace["one_case"].collect()["revision"].to_list() == [0, 1]  # type: ignore[attr-defined]
    namespace["store"].close()  # type: ignore[attr-defined]


def test_the_readme_time_travel_example_runs(tmp_path, monkeypatch) -> None:
    from polars.testing import assert_frame_equal

    from sample_data.demo import load_demo
    from workbench import EventStore

    monkeypatch.chdir(tmp_path)
    with EventStore("workbench.db") as store:
        load_demo(store)
    text = (DOCS / "time-travel.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    code = next(block for block in blocks if "timetravel" in block)
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert_frame_equal(namespace["fast"], namespace["then"])
    assert namespace["known"]["events"].sum() < namespace["then"]["events"].sum()
    namespace["store"].close()


def test_the_readme_python_examples_run(tmp_path, monkeypatch) -> None:
    """The README's examples, run in order on the store `make run` makes."""
    from sample_data.demo import load_demo
    from workbench import EventStore

    monkeypatch.chdir(tmp_path)
    with EventStore("workbench.db") as store:
        load_demo(store)
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert len(blocks) == 2
    namespace: dict[str, Any] = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["found"].cases > 0
    assert namespace["found"].p90 >= namespace["found"].median
    assert namespace["march"].nodes.height > 0
    assert namespace["as_it_was_known"].collect().height == 1
    namespace["store"].close()


def test_logs_show_object_types_and_views(tmp_path) -> None:
    db = tmp_path / "s.db"
    run(db, "ingest", str(real_log("order-management.ocel2.sqlite")), "--log", "orders")
    _, out, _ = run(db, "logs", "--json")
    entries = {entry["log"]: entry for entry in json.loads(out)}
    assert entries["orders"]["kind"] == "object"
    assert entries["orders"]["object_types"]["orders"] == 2_000
    assert entries["orders/orders"]["kind"] == "view"
    assert entries["orders/orders"]["cases"] == 2_000
    _, out, _ = run(db, "logs")
    assert "orders/customers" in out


def test_an_attribute_value_with_a_comma_can_be_named(tmp_path) -> None:
    source = tmp_path / "names.csv"
    source.write_text(
        "case,activity,timestamp,owner\n"
        'c1,a,2024-01-01 10:00,"Smith, J."\n'
        "c2,a,2024-01-01 11:00,Lee\n"
        "c3,a,2024-01-01 12:00,Smith\n"
    )
    db = tmp_path / "s.db"
    assert run(db, "ingest", str(source), "--log", "names")[0] == 0

    def cases(*values: str) -> int:
        code, out, _ = run(db, "stats", "names", "--json", *values)
        assert code == 0, out
        return int(json.loads(out)["cases"])

    assert cases("--attribute", r"owner=Smith\, J.") == 1
    assert cases("--attribute", r"owner=Smith\, J.,Lee") == 2
    assert cases("--attribute", "owner=Smith,Lee") == 2  # the plain names, not "Smith, J."


def test_tables_print_whole_values_into_a_pipe_and_a_narrow_terminal(tmp_path) -> None:
    import io
    import os
    import subprocess
    import sys

    from rich.table import Table

    from workbench import Event, EventStore
    from workbench.cli.output import FoldingConsole

    JAN, FEB = datetime(2024, 1, 1), datetime(2024, 2, 1)

    db = tmp_path / "wide.db"
    name = "a-log-with-a-name-long-enough-to-squeeze-a-table-" * 2
    with EventStore(db) as store:
        for case in range(120):
            store.append(name, f"case-{case}", [Event("a", JAN), Event("b", FEB)])
    environment = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    for command in (["logs"], ["jobs"], ["stats", name]):
        piped = subprocess.run(
            [sys.executable, "-m", "workbench", "--db", str(db), *command],
            capture_output=True, text=True, env=environment, timeout=120,
        )  # fmt: skip
        assert piped.returncode == 0, piped.stderr
        assert "…" not in piped.stdout, piped.stdout
    assert name in subprocess.run(
        [sys.executable, "-m", "workbench", "--db", str(db), "logs"],
        capture_output=True, text=True, env=environment, timeout=120,
    ).stdout  # fmt: skip
    narrow = io.StringIO()
    console = FoldingConsole(file=narrow, width=30, markup=False)
    table = Table("log", "cases", "events")
    table.add_row(name, "1,234,567", "100,000,000")
    console.print(table)
    assert "…" not in narrow.getvalue()
    assert "67" in narrow.getvalue()  # the end of 1,234,567, folded onto the next line


@pytest.mark.parametrize("command", [["--help"], ["stats", "--help"], ["state", "--help"]])
def test_help_starts_without_loading_what_computes(command: list[str]) -> None:
    """Help is printed without loading Polars, Arrow or any engine, library or driver a
    command loads only when it computes."""
    import subprocess
    import sys

    heavy = ["polars", "pyarrow", "numpy", "pm4py", "plotly", "pyspark", "psycopg", "streamlit"]
    script = (
        "import sys\n"
        "from workbench.cli import main\n"
        f"sys.argv = ['workbench', *{command!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print([name for name in {heavy!r} if name in sys.modules])"
    )
    ran = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stderr
    assert "Usage" in ran.stdout
    assert ran.stdout.strip().splitlines()[-1] == "[]", ran.stdout
