"""Graphviz DOT: how text is written into a drawing's source.

Every map Workbench draws (process maps, compare, causality, object-centric maps, models'
deviations, the animation) is DOT built from data: an activity, a case id or an attribute
value can hold quotes, backslashes and line breaks, and must come out as the same text.
"""

from __future__ import annotations


def quote(text: object) -> str:
    """A DOT string of any text: quoted, with backslashes, quotes and line breaks escaped.

    >>> quote('say "hi"')
    '"say \\\\"hi\\\\""'
    >>> print(quote("two\\nlines"))
    "two\\nlines"
    """
    escaped = str(text).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n") + '"'
