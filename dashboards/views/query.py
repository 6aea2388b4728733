"""Query: your own question in SQL over the log's tables, with time travel, as `workbench
query` answers it; the answer as a table, a chart and a download."""

from __future__ import annotations

import shlex

import polars as pl
import streamlit as st

from dashboards import charts, state
from dashboards.layout import escape, filtered_note, require_log, title
from workbench.application import Cut
from workbench.events import WorkbenchError
from workbench.query import TABLES

ROWS = 1_000  # rows a page shows; `workbench query --format csv` gives them all
EXAMPLES = {
    "Events per activity": "SELECT activity, count(*) AS events\nFROM events\nGROUP BY 1\n"
    "ORDER BY events DESC",
    "Cases started per week": "SELECT date_trunc('week', start) AS week, count(*) AS cases\n"
    "FROM cases\nGROUP BY 1\nORDER BY 1",
    "Slowest paths": "SELECT source, target, frequency, mean_seconds / 3600 AS mean_hours\n"
    "FROM dfg\nORDER BY mean_seconds DESC\nLIMIT 10",
    "Open cases at a moment": "SELECT last_activity, count(*) AS cases\n"
    "FROM state_at(TIMESTAMP '2024-03-01')\nWHERE status = 'open'\nGROUP BY 1\nORDER BY 2 DESC",
    "What a later import added": "SELECT activity, count(*) AS added\nFROM events AS now\n"
    "WHERE now.position NOT IN (\n  SELECT position FROM events FOR SYSTEM_TIME AS OF 1000\n)\n"
    "GROUP BY 1",
}

summary = require_log()
title("Query", summary)
st.caption(
    "Read-only SQL (DuckDB's dialect) over the tables "
    + ", ".join(f"`{name}`" for name in TABLES)
    + " and `state_at(TIMESTAMP)`. `FOR SYSTEM_TIME AS OF` (as known then) and `FOR VALID_TIME"
    " AS OF` (as it had happened by then) travel in time per table. See the query language"
    " in the docs."
)
example = st.selectbox("Start from an example", ["(your own)", *EXAMPLES])
default = st.query_params.get(state.SQL_KEY) or EXAMPLES["Events per activity"]
if example != "(your own)":
    default = EXAMPLES[example]
sql = st.text_area("SQL", default, height=180, key=f"sql-{example}")
left, right = st.columns(2)
every_log = left.toggle("Every log", help="Without it, the tables hold this log's rows only.")
knowledge = state.knowledge(summary.log)
known_label = right.selectbox(
    "As known", list(knowledge), help="The cut of every table without a clause of its own."
)
cut = Cut(known_at=knowledge[known_label])
filtered_note()
if sql.strip() != st.query_params.get(state.SQL_KEY, ""):
    st.query_params[state.SQL_KEY] = sql.strip()  # the link carries the question
try:
    answer = state.run_query(sql, summary.log, every_log=every_log, cut=cut, limit=ROWS)
except WorkbenchError as error:
    st.error(escape(str(error)), icon=":material/block:")
    st.stop()
frame = answer.frame
read = "; ".join(f"{name} {words}" for name, words in answer.cuts)
count = (
    f"{answer.total:,} rows"
    if answer.complete
    else f"the first {frame.height:,} of {answer.total:,} rows"
    if answer.total is not None
    else f"the first {frame.height:,} rows"
)
st.caption(f"{count}" + (f" · read: {escape(read)}" if read else ""))
st.dataframe(state.local(frame), hide_index=True)


def _chart(frame: pl.DataFrame) -> None:
    """A line over time or bars over categories: the first column against the first number
    after it, changeable."""
    numbers = [n for n, t in frame.schema.items() if t.is_numeric()]
    if frame.width < 2 or not numbers or frame.height == 0:
        return
    x_options = frame.columns
    columns = st.columns(3)
    x = columns[0].selectbox("x", x_options, index=0)
    y_options = [n for n in numbers if n != x] or numbers
    y = columns[1].selectbox("y", y_options, index=0)
    temporal = frame.schema[x].is_temporal()
    kind = columns[2].selectbox(
        "Chart", ["line", "bar", "none"], index=0 if temporal else 1, key="chart-kind"
    )
    if kind == "none":
        return
    shown = state.local(frame.select(*dict.fromkeys((x, y))))  # x may be y: one column
    st.vega_lite_chart(spec=charts.query_chart(shown, x, y, kind), width="stretch")


_chart(frame)
command = f"workbench query {shlex.quote(' '.join(sql.split()))}" + (
    "" if every_log else f" --log {shlex.quote(summary.log)}"
)
st.download_button(
    "Download CSV",
    frame.write_csv()
    if not any(isinstance(t, pl.List) for t in frame.dtypes)
    else frame.with_columns(pl.col(pl.List(pl.String)).list.join(" → ")).write_csv(),
    file_name="query.csv",
    mime="text/csv",
    help=f"The rows shown; `{command} --format csv` writes every row.",
)
with st.expander("Save as a projection"):
    st.caption(
        "A projection is kept for every log and brought up to date as events arrive (see"
        " Projections); it reads `events`, and the `cases`, `dfg` and `variants` computed from"
        " them."
    )
    name = st.text_input("Name", key="projection-name")
    description = st.text_input("Description", key="projection-description")
    if st.button("Save", icon=":material/save:", disabled=not name.strip()):
        try:
            state.workbench().define_projection(name.strip(), sql, description=description)
        except WorkbenchError as error:
            st.error(escape(str(error)), icon=":material/block:")
        else:
            st.success(f"Saved {escape(name.strip())}: the Projections page shows it.")
