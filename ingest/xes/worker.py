"""A process that parses XES pieces: ``python -m ingest.xes.worker``.

rustxes holds the GIL while it parses, so parser threads would take turns with each other
and with the threads that convert and write. The importer starts a few of these processes
(spawned, never forked: the importer has run Polars) and hands each piece over on standard
input as one line, ``PIECE<TAB>TARGET``; the process parses the XES file PIECE, writes its
events to the Arrow IPC file TARGET and answers with one line: the number of events, or
``-`` when rustxes cannot read the piece or it has none. It imports only what a parser
needs, so it starts in a fraction of a second.
"""

from __future__ import annotations

import os
import signal
import sys


def parse(piece: str, target: str) -> int | None:
    """Parse the XES file ``piece`` into the Arrow IPC file ``target``: its events, or None
    when rustxes cannot read it or it has none."""
    import rustxes

    try:
        frame, _ = rustxes.import_xes(piece)
    except BaseException as error:  # rustxes panics (PanicException derives BaseException)
        if isinstance(error, KeyboardInterrupt | SystemExit):
            raise
        return None
    if not frame.height:
        return None
    frame.write_ipc(target, compression="uncompressed")
    return int(frame.height)


def main() -> None:
    # Ctrl-C is the importer's to handle; a native library's panic message is not the
    # user's business (the importer reports what could not be read).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sink = os.open(os.devnull, os.O_WRONLY)
    os.dup2(sink, 2)
    os.close(sink)
    for line in sys.stdin:
        piece, _, target = line.rstrip("\n").partition("\t")
        rows = parse(piece, target)
        sys.stdout.write(f"{'-' if rows is None else rows}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
