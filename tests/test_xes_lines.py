"""The line parser (`ingest.xes.lines`) reads what rustxes reads, or declines.

Every frame it returns must equal rustxes' frame of the same text (column order aside);
whatever it declines is read by rustxes, so an import never depends on which parser ran.
"""

from __future__ import annotations

import gzip
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import rustxes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from ingest.jobs import ingest
from ingest.options import ParseOptions, Tuning
from ingest.xes import lines as xes_lines
from tests.conftest import real_log
from workbench import EventStore

_TRACE = re.compile(rb"<trace[\s>]")


def _split(text: bytes) -> tuple[bytes, bytes]:
    found = _TRACE.search(text)
    assert found is not None
    end = text.rfind(b"</log>")
    return text[: found.start()], text[found.start() : end]


def _ours(text: bytes) -> pl.DataFrame | None:
    header, body = _split(text)
    known = xes_lines.defaults(header)
    return None if known is None else xes_lines.parse(body, known)


def _theirs(text: bytes, tmp_path: Path) -> pl.DataFrame:
    path = tmp_path / "log.xes"
    path.write_bytes(text)
    frame, _ = rustxes.import_xes(str(path))
    return frame


def _same(ours: pl.DataFrame, theirs: pl.DataFrame) -> None:
    assert_frame_equal(ours.select(sorted(ours.columns)), theirs.select(sorted(theirs.columns)))


@pytest.mark.parametrize(
    "name",
    [
        "running-example.xes",
        "roadtraffic100traces.xes",
        "interval_event_log.xes",
        "sepsis.xes.gz",
        "bpic2012.xes.gz",
    ],
)
def test_the_real_logs_parse_as_rustxes_reads_them(name: str, tmp_path: Path) -> None:
    path = real_log(name)
    text = gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()
    ours = _ours(text)
    assert ours is not None, "a log written one element per line is the plain case"
    _same(ours, _theirs(text, tmp_path))


# ------------------------------------------------------------------ generated logs

_HEAD = '<?xml version="1.0" encoding="UTF-8" ?>\n<log xes.version="1.0" xmlns="http://www.xes-standard.org/">\n'
_TEXT = st.text(
    alphabet=st.sampled_from(list("ab Z09:_-.,;/\\ü日é€&<>\"'#%\t")) | st.characters(codec="utf-8"),
    max_size=12,
).filter(lambda text: "\r" not in text and "\n" not in text and "\x00" not in text)


def _escaped(text: str) -> str:
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&apos;")
    )


@st.composite
def _date(draw: Any) -> str:
    moment = datetime(1990, 1, 1, tzinfo=UTC) + timedelta(
        seconds=draw(st.integers(0, 60 * 365 * 86_400))
    )
    digits = draw(st.integers(0, 9))
    fraction = (
        ""
        if digits == 0
        else "." + "".join(draw(st.sampled_from("0123456789")) for _ in range(digits))
    )
    zone = draw(st.sampled_from(["", "Z", "+00:00", "+01:00", "-05:30", "+14:00", "-12:00"]))
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + zone


_VALUES = {
    "string": _TEXT.map(_escaped),
    "id": st.uuids().map(str),
    "int": st.integers(-(2**62), 2**62).map(str) | st.sampled_from(["+5", "007", "-0"]),
    "float": st.floats(allow_nan=False, allow_infinity=False).map(repr)
    | st.sampled_from(["1.", ".5", "-2.50", "1e3", "1E-2", "+3.25"]),
    "boolean": st.sampled_from(["true", "false"]),
    "date": _date(),
}
_EVENT_KEYS = ["concept:name", "time:timestamp", "org:resource", "amount", "ü key", "flag", "k>"]
_TRACE_KEYS = ["concept:name", "creator", "日付", "total"]


@st.composite
def _logs(draw: Any) -> str:
    kinds = {
        key: draw(st.sampled_from(sorted(_VALUES)))
        for key in [*(f"e/{key}" for key in _EVENT_KEYS), *(f"t/{key}" for key in _TRACE_KEYS)]
    }
    kinds["e/time:timestamp"] = "date"
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    indent = draw(st.sampled_from(["\t", "  ", ""]))
    close = draw(st.sampled_from(["/>", " />"]))

    def attribute(scope: str, key: str, depth: int) -> str:
        kind = kinds[f"{scope}/{key}"]
        value = draw(_VALUES[kind])
        return f'{indent * depth}<{kind} key="{_escaped(key)}" value="{value}"{close}{newline}'

    lines = [_HEAD]
    for scope, keys in (("trace", _TRACE_KEYS), ("event", _EVENT_KEYS)):
        chosen = draw(st.lists(st.sampled_from(keys), unique=True, max_size=2))
        if chosen:
            lines.append(f'<global scope="{scope}">{newline}')
            lines.extend(attribute(scope[0], key, 1) for key in chosen)
            lines.append(f"</global>{newline}")
    for _ in range(draw(st.integers(1, 6))):
        lines.append(f"{indent}<trace>{newline}")
        for key in draw(st.lists(st.sampled_from(_TRACE_KEYS), unique=True)):
            lines.append(attribute("t", key, 2))
        for _ in range(draw(st.integers(0, 5))):
            lines.append(f"{indent * 2}<event>{newline}")
            keys = draw(st.lists(st.sampled_from(_EVENT_KEYS), unique=True, min_size=1))
            lines.extend(attribute("e", key, 3) for key in keys)
            lines.append(f"{indent * 2}</event>{newline}")
            if draw(st.booleans()):
                lines.append(newline)  # a blank line
        lines.append(f"{indent}</trace>{newline}")
    lines.append("</log>\n")
    return "".join(lines)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=_logs())
def test_generated_plain_logs_parse_as_rustxes_reads_them(text: str, tmp_path: Path) -> None:
    data = text.encode()
    theirs = _theirs(data, tmp_path)
    ours = _ours(data)
    if theirs.height == 0:
        assert ours is None
        return
    assert ours is not None, text
    _same(ours, theirs)


def test_many_dates_written_a_few_ways_parse_as_rustxes_reads_them(tmp_path: Path) -> None:
    """Past a few thousand dates with at most milliseconds, each way a date ends (fraction,
    zone) is read once: the result must not change."""
    zones = ["", "Z", "+00:00", "+01:00", "-05:30", "+14:00", "-12:00"]
    fractions = ["", ".5", ".25", ".125", ".0", ".999"]
    start = datetime(2020, 2, 28, 22, 59, 58, tzinfo=UTC)
    traces = []
    for n in range(700):
        events = "".join(
            "<event>\n"
            f'<string key="concept:name" value="a{k}"/>\n'
            '<date key="time:timestamp" value="'
            + (start + timedelta(seconds=97 * n + k)).strftime("%Y-%m-%dT%H:%M:%S")
            + fractions[(n + k) % len(fractions)]
            + zones[(n * 3 + k) % len(zones)]
            + '"/>\n</event>\n'
            for k in range(7)
        )
        traces.append(f'<trace>\n<string key="concept:name" value="c{n}"/>\n{events}</trace>\n')
    text = (_HEAD + "".join(traces) + "</log>\n").encode()
    ours = _ours(text)
    assert ours is not None
    assert ours.height == 4_900
    _same(ours, _theirs(text, tmp_path))


# ------------------------------------------------------------------ what it declines

_PLAIN_TRACE = (
    '<trace>\n<string key="concept:name" value="c{n}"/>\n'
    '<event>\n<string key="concept:name" value="a"/>\n'
    '<date key="time:timestamp" value="2024-01-01T10:00:0{n}Z"/>\n{extra}</event>\n</trace>\n'
)


@pytest.mark.parametrize(
    "extra",
    [
        '<string key="x" value="1"/><string key="y" value="2"/>\n',  # two on a line
        '<string key="x" value="1"/>"<string key="y" value="2"/>\n',  # a quote between
        '<!--\n<string key="x" value="1"/>\n-->\n',  # a comment over lines
        '<!-- <string key="x" value="1"/> -->\n',
        '<![CDATA[\n<string key="x" value="1"/>\n]]>\n',
        '<string key="x" value="1">\n<string key="y" value="2"/>\n</string>\n',  # nested
        '<list key="x">\n</list>\n',
        '<boolean key="b" value="TRUE"/>\n',
        '<int key="i" value="1.5"/>\n',
        '<float key="f" value=" 3"/>\n',
        '<date key="d" value="2020-01-01"/>\n',
        '<date key="d" value="2020-01-01T24:00:00Z"/>\n',
        '<date key="d" value="2020-01-01T10:00:00+0100"/>\n',
        '<string key="concept:name" value="again"/>\n',  # a key twice
        '<string key="x" value="&#233;"/>\n',
        "<string key='x' value='single'/>\n",
        '<string value="v" key="x"/>\n',
        "<event/>\n",
        '<id key="i" value="67E55044-10B1-426F-9247-BB680E5FE0C8"/>\n',
    ],
)
def test_what_rustxes_reads_its_own_way_is_declined_and_imports_the_same(
    extra: str, tmp_path: Path
) -> None:
    traces = "".join(_PLAIN_TRACE.format(n=n, extra=extra if n == 7 else "") for n in range(9))
    text = (_HEAD + traces + "</log>\n").encode()
    assert _ours(text) is None
    path = tmp_path / "odd.xes"
    path.write_bytes(text)
    # The odd trace in a later piece: the pieces before it are the line parser's.
    frames = {}
    for parser in (True, False):
        tuning = Tuning(batch_rows=4, xes_first_lines=200, xes_line_parser=parser)
        with EventStore(tmp_path / f"{parser}.db") as store:
            summary = ingest(store, path, log="odd", options=ParseOptions(tuning=tuning))
            frames[parser] = (
                summary.status,
                store.read("odd").drop("position", "recorded_at").sort("event_id"),
            )
    assert frames[True][0] == frames[False][0]
    assert_frame_equal(frames[True][1], frames[False][1], check_column_order=False)


def test_a_key_with_two_types_a_clash_with_a_trace_key_and_odd_globals_are_declined() -> None:
    two_types = _PLAIN_TRACE.format(n=1, extra='<int key="x" value="1"/>\n') + _PLAIN_TRACE.format(
        n=2, extra='<string key="x" value="s"/>\n'
    )
    assert _ours((_HEAD + two_types + "</log>").encode()) is None
    clash = _PLAIN_TRACE.format(n=1, extra='<string key="case:concept:name" value="c"/>\n')
    assert _ours((_HEAD + clash + "</log>").encode()) is None
    plain = _PLAIN_TRACE.format(n=1, extra="")
    nested = '<global scope="event">\n<string key="x" value="1">\n</string>\n</global>\n'
    assert _ours((_HEAD + nested + plain + "</log>").encode()) is None
    typed = '<global scope="event">\n<int key="concept:name" value="1"/>\n</global>\n'
    assert _ours((_HEAD + typed + plain + "</log>").encode()) is None
    # A default rustxes reads its own way (as false), for a key some events lack.
    odd = '<global scope="event">\n<boolean key="b" value="YES"/>\n</global>\n'
    with_b = _PLAIN_TRACE.format(n=2, extra='<boolean key="b" value="true"/>\n')
    assert _ours((_HEAD + odd + with_b + plain + "</log>").encode()) is None
    commented = '<!-- <global scope="event"><string key="x" value="1"/></global> -->\n'
    assert _ours((_HEAD + commented + plain + "</log>").encode()) is None
    before = (
        '<!-- written by hand -->\n<global scope="event">\n<string key="x" value="1"/>\n</global>\n'
    )
    seen = _PLAIN_TRACE.format(n=2, extra='<string key="x" value="2"/>\n')
    ours = _ours((_HEAD + before + seen + plain + "</log>").encode())
    assert ours is not None
    assert ours["x"].to_list() == ["2", "1"]  # the default where the key is missing
