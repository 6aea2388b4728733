"""User data in text that Streamlit reads as Markdown: shown as it is, never as markup.

Titles, captions, messages and widget labels in Streamlit are Markdown, with Streamlit's
additions (``:red[...]`` colours, ``:material/...:`` icons, ``$...$`` formulas). A log
named ``[x](http://...)`` or an activity ``*urgent*`` must read as typed, so every piece of
data goes through `escape` before it joins such text.
"""

from __future__ import annotations

import re
from typing import Final

# What is markup anywhere in a line; and what is markup only where a line begins.
_SPECIAL: Final = re.compile(r"([\\`*_\[\]()<>~|$:])")
_LEADING: Final = re.compile(r"^(\s*)([-+#>=])")
_NUMBERED: Final = re.compile(r"^(\s*\d+)([.)])")


def escape(text: object) -> str:
    r"""The text, with every character Markdown (or Streamlit) would read as markup escaped,
    on one line.

    >>> print(escape("[x](http://a.b) *bold* $1$ :red[no] order-to-cash"))
    \[x\]\(http\://a.b\) \*bold\* \$1\$ \:red\[no\] order-to-cash
    >>> print(escape("# not a heading"), escape("1. not a list"))
    \# not a heading 1\. not a list
    """
    inline = _SPECIAL.sub(r"\\\1", " ".join(str(text).split()))
    if _NUMBERED.match(inline):
        return _NUMBERED.sub(r"\1\\\2", inline)
    return _LEADING.sub(r"\1\\\2", inline)
