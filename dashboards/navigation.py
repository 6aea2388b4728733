"""The app's pages in their sections: what the entry point navigates and the sidebar links.

The sidebar draws the links itself (Streamlit's own page menu is hidden) so that every link
carries the query of the page it is on: the chosen log, the time zone and the global
filters follow the user from page to page, and a link copied from the menu shares them.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st


@dataclass(frozen=True)
class Entry:
    """One page: its script (relative to the entry point), title and icon."""

    path: str
    title: str
    icon: str


SECTIONS: dict[str, tuple[Entry, ...]] = {
    "Data": (
        Entry("views/logs.py", "Event logs", ":material/folder_open:"),
        Entry("views/upload.py", "Upload", ":material/upload:"),
    ),
    "Explore": (
        Entry("views/overview.py", "Overview", ":material/monitoring:"),
        Entry("views/process_map.py", "Process map", ":material/account_tree:"),
        Entry("views/variants.py", "Variants", ":material/alt_route:"),
        Entry("views/cases.py", "Cases", ":material/description:"),
        Entry("views/performance.py", "Performance", ":material/timer:"),
        Entry("views/compare.py", "Compare", ":material/compare_arrows:"),
        Entry("views/objects.py", "Object-centric", ":material/hub:"),
        Entry("views/mining.py", "Discovery and conformance", ":material/schema:"),
    ),
    "Time": (
        Entry("views/time_travel.py", "Time travel", ":material/history:"),
        Entry("views/predictions.py", "Predictions", ":material/online_prediction:"),
        Entry("views/projections.py", "Projections", ":material/table_view:"),
        Entry("views/query.py", "Query", ":material/terminal:"),
    ),
}
DEFAULT = SECTIONS["Data"][0]
# Pages that change the store, and the least role that may open them.
WRITES: dict[str, str] = {"views/upload.py": "analyst"}


def sections(role: str | None = None) -> dict[str, tuple[Entry, ...]]:
    """The pages a user of this role sees, by section (every page without logins)."""
    from workbench.access import ROLES

    def allowed(entry: Entry) -> bool:
        needed = WRITES.get(entry.path)
        return role is None or needed is None or ROLES.index(role) >= ROLES.index(needed)

    return {
        section: tuple(entry for entry in entries if allowed(entry))
        for section, entries in SECTIONS.items()
    }


def pages(role: str | None = None) -> dict[str, list[st.Page]]:
    """The pages for `st.navigation`, by section: those a user of this role may open (a
    page left out cannot be reached by its address either)."""
    return {
        section: [
            st.Page(entry.path, title=entry.title, icon=entry.icon, default=entry == DEFAULT)
            for entry in entries
        ]
        for section, entries in sections(role).items()
    }
