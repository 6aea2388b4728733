"""The server `workbench serve` starts: Streamlit, with the modules every page needs
(the application, the store and its recorder, Polars, the sidebar) imported before it
listens, so that the first page a user opens does not wait for them.

    python -m dashboards.launch run dashboards/app.py [Streamlit's options]
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    from streamlit.web import cli

    import dashboards.layout  # noqa: F401  (with it state, sidebar, login and navigation)
    from workbench.store import recorder_for

    recorder_for(os.environ.get("WORKBENCH_DB", ""))  # 0.35 s of the first page otherwise

    sys.argv[0] = "streamlit"
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main()
