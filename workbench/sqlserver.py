"""A read-only PostgreSQL-wire endpoint over the query language: `workbench serve-sql`.

psql, psycopg, DBeaver or Metabase connect to it as to a PostgreSQL server and read
Workbench's tables (`workbench.query`) in the query language's dialect, DuckDB's, with its
time travel. Each statement runs as `workbench.application.Workbench.query` runs it, so an
answer here equals the one `workbench query` gives; a statement that names the engine's
catalog (``information_schema``, ``pg_catalog``) reads a catalog that lists those tables
and their columns, which is what a BI tool asks first.

The wire protocol (version 3: simple and extended queries, SCRAM-SHA-256 and cleartext
passwords, TLS, cancel requests) is spoken with pygwire, a sans-I/O codec; this module does
the I/O, one thread per connection. What a client may send besides queries is what drivers
send on their own and cannot change the store: ``BEGIN``, ``COMMIT`` and ``ROLLBACK``
(read-only transactions, nothing to commit), ``SET`` and ``SHOW`` of the session
parameters in `SETTABLE` (``statement_timeout`` lowers the endpoint's timeout),
``DEALLOCATE`` and ``DISCARD``. Everything else is refused as the query command refuses it,
in one line.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import itertools
import logging
import secrets
import socket
import socketserver
import ssl
import struct
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import polars as pl

from workbench.events import WorkbenchError
from workbench.query import QueryError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from workbench.access import User
    from workbench.application import Cut, Workbench
    from workbench.filters import Filters
    from workbench.query import Answer

#: What the endpoint says it is (clients read the leading number as PostgreSQL's version).
SERVER_VERSION: Final = "16.0 (Workbench, read-only)"
DEFAULT_PORT: Final = 5433
DEFAULT_LIMIT: Final = 1_000_000
#: Session parameters a client may set (drivers set some on connecting), and their values
#: at the start of a session.
SETTABLE: Final = {
    "application_name": "",
    "client_encoding": "UTF8",
    "client_min_messages": "notice",
    "datestyle": "ISO, MDY",
    "default_transaction_read_only": "on",
    "extra_float_digits": "3",
    "intervalstyle": "postgres",
    "search_path": "main, public",
    "standard_conforming_strings": "on",
    "statement_timeout": "0",
    "timezone": "UTC",
    "bytea_output": "hex",
    "lock_timeout": "0",
    "idle_in_transaction_session_timeout": "0",
    "jit": "off",
}
#: The parameters a server reports on connecting, as PostgreSQL spells them.
REPORTED: Final = {
    "server_version": SERVER_VERSION,
    "server_encoding": "UTF8",
    "client_encoding": "UTF8",
    "DateStyle": "ISO, MDY",
    "TimeZone": "UTC",
    "IntervalStyle": "postgres",
    "integer_datetimes": "on",
    "standard_conforming_strings": "on",
    "default_transaction_read_only": "on",
    "in_hot_standby": "off",
    "is_superuser": "off",
}
_SCRAM_ITERATIONS: Final = 4096
_EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)  # PostgreSQL's, for binary times
_FLUSH_BYTES: Final = 1 << 16

logging.getLogger("pygwire").setLevel(logging.ERROR)  # a client's odd order is not ours


# ------------------------------------------------------------------ the endpoint


@dataclass
class Endpoint:
    """What a server answers with: the application (as nobody, or as each logged-in
    user), the log (None: every log), the cut and filters every query starts from, the
    row limit and the timeout, and how clients prove who they are: ``auth`` is "none",
    "password" (one shared ``password``, by SCRAM-SHA-256) or "users" (a user of `workbench
    users` and their password, whose rights each query then has)."""

    bench: Workbench
    log: str | None = None
    cut: Cut | None = None
    filters: Filters | None = None
    limit: int | None = DEFAULT_LIMIT
    timeout: float = 60.0
    auth: str = "none"
    password: str | None = None
    tls: ssl.SSLContext | None = None
    sessions: dict[tuple[int, bytes], _Session] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _schemas: dict[tuple[object, ...], dict[str, pl.Schema]] = field(default_factory=dict)

    def answer(
        self, bench: Workbench, sql: str, limit: int | None, timeout: float, cancel: threading.Event
    ) -> Answer:
        """A statement's rows, from the catalog or from Workbench's tables."""
        from workbench.application import Cut
        from workbench.filters import Filters
        from workbench.query import catalog, reads_catalog

        if reads_catalog(sql):
            schemas = self.schemas(bench)
            return catalog(sql, schemas, limit=limit, timeout=timeout, cancel=cancel)
        return bench.query(
            sql,
            self.cut or Cut(),
            self.filters or Filters(),
            log=self.log,
            limit=limit,
            timeout=timeout,
            cancel=cancel,
        )

    def schemas(self, bench: Workbench) -> dict[str, pl.Schema]:
        """The columns of each table a query reads, for the catalog: computed as a query
        computes them, again when a log has grown."""
        from workbench.application import Cut
        from workbench.filters import Filters
        from workbench.query import TABLES

        names = [self.log] if self.log else [s.log for s in bench.logs()]
        key = (bench.user, tuple((name, bench.head(name)) for name in names))
        with self.lock:
            found = self._schemas.get(key)
        if found is None:
            found = {
                name: bench.query(
                    f"SELECT * FROM {name} LIMIT 0",
                    self.cut or Cut(),
                    self.filters or Filters(),
                    log=self.log,
                    timeout=self.timeout,
                ).frame.schema
                for name in TABLES
            }
            with self.lock:
                self._schemas.clear()  # one version is enough: the newest
                self._schemas[key] = found
        return found

    def cancel(self, number: int, secret: bytes) -> None:
        """A cancel request: stop what that session runs now (if the key is its own)."""
        with self.lock:
            session = self.sessions.get((number, secret))
        if session is not None:
            session.cancel.set()


class Server(socketserver.ThreadingTCPServer):
    """The endpoint on a socket: a thread per connection (`serve_forever`; `shutdown`
    from another thread stops it)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.address_family = family
        super().__init__(address, _Handler)

    @property
    def port(self) -> int:
        """The port it listens on (the one chosen when it was asked for port 0)."""
        return int(self.server_address[1])


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        assert isinstance(self.server, Server)
        _Session(self.server.endpoint, self.request).serve()


# ------------------------------------------------------------------ errors


class _Failure(Exception):
    """An error to send the client: its SQLSTATE and one line."""

    def __init__(self, code: str, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fatal = fatal


class _Closed(Exception):
    """The client went away."""


def _failure(error: QueryError) -> _Failure:
    from workbench.query import Cancelled, TimedOut

    if isinstance(error, Cancelled):
        return _Failure("57014", "canceling statement due to user request")
    if isinstance(error, TimedOut):
        return _Failure("57014", str(error))
    return _Failure("42000", str(error))


def _unexpected(error: Exception) -> _Failure:
    """An error of the endpoint's own: the client gets one line, the server's log the
    traceback."""
    logging.getLogger(__name__).exception("serve-sql: a statement failed")
    first = str(error).strip().splitlines()
    return _Failure("XX000", f"internal error: {first[0] if first else type(error).__name__}")


# ------------------------------------------------------------------ a session


@dataclass
class _Prepared:
    sql: str
    types: list[int]
    command: _Command | None  # a session command, or None for a query
    parameters: int  # how many $n it names


@dataclass
class _Portal:
    prepared: _Prepared
    values: list[str | None]
    formats: list[int]
    result: _Result | None = None
    sent: int = 0


@dataclass
class _Result:
    """Rows to send: their columns, the rows as text (or binary, by ``formats``), a tag,
    and notices to send first."""

    columns: list[tuple[str, str]]  # name, type
    frame: pl.DataFrame | None
    tag: str
    notices: list[str] = field(default_factory=list)


class _Session:
    """One client's connection: its startup and authentication, then its statements."""

    def __init__(self, endpoint: Endpoint, sock: socket.socket) -> None:
        from pygwire import BackendConnection
        from pygwire.constants import TransactionStatus

        self.endpoint = endpoint
        self.sock = sock
        self.wire = BackendConnection(strict=False)
        self.pending: deque[Any] = deque()
        self.out = bytearray()
        self.status = TransactionStatus.IDLE
        self.settings = dict(SETTABLE)
        self.statements: dict[str, _Prepared] = {}
        self.portals: dict[str, _Portal] = {}
        self.cancel = threading.Event()
        self.bench: Workbench = endpoint.bench
        self.key: tuple[int, bytes] | None = None

    # ---------------------------------------------------------------- I/O

    def _next(self) -> Any:
        while not self.pending:
            data = self.sock.recv(1 << 16)
            if not data:
                raise _Closed
            self.pending.extend(self.wire.receive(data))
        return self.pending.popleft()

    def _send(self, message: Any) -> None:
        self.out += self.wire.send(message)
        if len(self.out) >= _FLUSH_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self.out:
            self.sock.sendall(self.out)
            self.out.clear()

    def serve(self) -> None:
        try:
            if self._start():
                self._loop()
        except (_Closed, OSError, ssl.SSLError):
            pass
        except _Failure as failure:  # fatal: said, then the connection ends
            self._error(failure)
            self._flush_quietly()
        finally:
            if self.key is not None:
                with self.endpoint.lock:
                    self.endpoint.sessions.pop(self.key, None)
            self.sock.close()

    def _flush_quietly(self) -> None:
        with contextlib.suppress(OSError):
            self._flush()

    # ---------------------------------------------------------------- startup

    def _start(self) -> bool:
        from pygwire.messages import (
            AuthenticationOk,
            BackendKeyData,
            CancelRequest,
            GSSEncRequest,
            NegotiateProtocolVersion,
            ParameterStatus,
            ReadyForQuery,
            SSLRequest,
            SSLResponse,
            StartupMessage,
        )

        while True:
            message = self._next()
            if isinstance(message, SSLRequest):
                self._send(SSLResponse(accepted=self.endpoint.tls is not None))
                self._flush()
                if self.endpoint.tls is not None:
                    self.sock = self.endpoint.tls.wrap_socket(self.sock, server_side=True)
            elif isinstance(message, GSSEncRequest):
                self.out += b"N"  # no GSS encryption; the client goes on without
                self._flush()
            elif isinstance(message, CancelRequest):
                self.endpoint.cancel(message.process_id, message.secret_key)
                return False
            elif isinstance(message, StartupMessage):
                break
            else:
                raise _Failure("08P01", "expected a startup message", fatal=True)
        if message.protocol_version >> 16 != 3:
            raise _Failure("0A000", "only protocol version 3 is spoken here", fatal=True)
        unknown = [name for name in message.params if name.startswith("_pq_.")]
        if message.protocol_version & 0xFFFF or unknown:
            self._send(NegotiateProtocolVersion(newest_minor=0, unrecognized=unknown))
        user = message.params.get("user", "")
        self._authenticate(user)
        self._send(AuthenticationOk())
        application = message.params.get("application_name")
        if application is not None:
            self.settings["application_name"] = application
        for name, value in {
            **REPORTED,
            "session_authorization": user,
            "application_name": self.settings["application_name"],
        }.items():
            self._send(ParameterStatus(name=name, value=value))
        number = next(self.endpoint.numbers)
        secret = secrets.token_bytes(4)
        self.key = (number, secret)
        with self.endpoint.lock:
            self.endpoint.sessions[self.key] = self
        self._send(BackendKeyData(process_id=number, secret_key=secret))
        self._send(ReadyForQuery(status=self.status))
        self._flush()
        return True

    def _authenticate(self, user: str) -> None:
        from pygwire.messages import AuthenticationCleartextPassword, PasswordMessage

        endpoint = self.endpoint
        refused = _Failure("28P01", f'password authentication failed for user "{user}"', fatal=True)
        if endpoint.auth == "none":
            return
        if endpoint.auth == "password":
            assert endpoint.password is not None
            if not self._scram(endpoint.password):
                raise refused
            return
        from workbench.access import Access

        self._send(AuthenticationCleartextPassword())
        self._flush()
        message = self._next()
        if not isinstance(message, PasswordMessage) or not isinstance(message.password, str):
            raise refused
        found: User | None = Access(endpoint.bench.store).login(user, message.password)
        if found is None:
            raise refused
        self.bench = endpoint.bench.acting(found)

    def _scram(self, password: str) -> bool:
        """SCRAM-SHA-256 (RFC 7677) without channel binding: the password never crosses
        the wire, and the client learns that the server knows it too."""
        from pygwire.messages import (
            AuthenticationSASL,
            AuthenticationSASLContinue,
            AuthenticationSASLFinal,
        )

        self._send(AuthenticationSASL(mechanisms=["SCRAM-SHA-256"]))
        self._flush()
        first = self._next()
        if getattr(first, "mechanism", None) != "SCRAM-SHA-256":
            return False
        header, _, rest = first.data.decode("utf-8", "replace").partition(",")
        authzid, _, bare = rest.partition(",")
        if header not in ("n", "y") or authzid:
            return False  # channel binding ("p=") is not offered
        nonce = _attributes(bare).get("r", "")
        if not nonce:
            return False
        salt = secrets.token_bytes(16)
        ours = nonce + base64.b64encode(secrets.token_bytes(18)).decode()
        server_first = f"r={ours},s={base64.b64encode(salt).decode()},i={_SCRAM_ITERATIONS}"
        self._send(AuthenticationSASLContinue(data=server_first.encode()))
        self._flush()
        final = self._next()
        text = getattr(final, "data", b"").decode("utf-8", "replace")
        without_proof, _, proof = text.rpartition(",p=")
        given = _attributes(without_proof)
        channel = base64.b64encode(f"{header},,".encode()).decode()
        if given.get("r") != ours or given.get("c") != channel:
            return False
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, _SCRAM_ITERATIONS)
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        stored = hashlib.sha256(client_key).digest()
        message = f"{bare},{server_first},{without_proof}".encode()
        signature = hmac.digest(stored, message, "sha256")
        try:
            sent = base64.b64decode(proof, validate=True)
        except ValueError:
            return False
        if len(sent) != len(signature):
            return False
        recovered = bytes(a ^ b for a, b in zip(sent, signature, strict=True))
        if not hmac.compare_digest(hashlib.sha256(recovered).digest(), stored):
            return False
        server_key = hmac.digest(salted, b"Server Key", "sha256")
        verifier = base64.b64encode(hmac.digest(server_key, message, "sha256")).decode()
        self._send(AuthenticationSASLFinal(data=f"v={verifier}".encode()))
        return True

    # ---------------------------------------------------------------- statements

    def _loop(self) -> None:
        from pygwire.messages import (
            Bind,
            Close,
            Describe,
            Execute,
            Flush,
            Parse,
            Query,
            Sync,
            Terminate,
        )

        failed = False  # an extended-query error: skip to the next Sync
        while True:
            message = self._next()
            if isinstance(message, Terminate):
                return
            if isinstance(message, Query):
                self._simple(message.query_string)
                continue
            if isinstance(message, Sync):
                failed = False
                self._ready()
                continue
            if isinstance(message, Flush):
                self._flush()
                continue
            if failed:
                continue
            try:
                if isinstance(message, Parse):
                    self._parse(message)
                elif isinstance(message, Bind):
                    self._bind(message)
                elif isinstance(message, Describe):
                    self._describe(message)
                elif isinstance(message, Execute):
                    self._execute(message)
                elif isinstance(message, Close):
                    self._close(message)
                else:
                    raise _Failure("08P01", f"{type(message).__name__} is not spoken here")
            except _Failure as failure:
                if failure.fatal:
                    raise
                self._error(failure)
                failed = True
            except Exception as error:  # not the client's doing: said, and logged here
                self._error(_unexpected(error))
                failed = True

    def _ready(self) -> None:
        from pygwire.messages import ReadyForQuery

        self._send(ReadyForQuery(status=self.status))
        self._flush()

    def _error(self, failure: _Failure) -> None:
        from pygwire.constants import TransactionStatus
        from pygwire.messages import ErrorResponse

        severity = "FATAL" if failure.fatal else "ERROR"
        fields = {"S": severity, "V": severity, "C": failure.code, "M": failure.message}
        self._send(ErrorResponse(fields=fields))
        if self.status == TransactionStatus.IN_TRANSACTION:
            self.status = TransactionStatus.ERROR_TRANSACTION

    def _notice(self, text: str) -> None:
        from pygwire.messages import NoticeResponse

        fields = {"S": "NOTICE", "V": "NOTICE", "C": "01000", "M": text}
        self._send(NoticeResponse(fields=fields))

    def _simple(self, text: str) -> None:
        from pygwire.messages import EmptyQueryResponse

        try:
            statements = _statements(text)
            if not statements:
                self._send(EmptyQueryResponse())
            elif len(statements) > 1:
                raise _Failure("42601", f"one statement only; this has {len(statements)}")
            else:
                prepared = self._prepare(statements[0], [])
                if prepared.parameters:
                    raise _Failure("08P01", f"there is no parameter ${prepared.parameters}")
                portal = _Portal(prepared, [], [])
                result = self._result(portal, None)
                self._describe_rows(result, [])
                self._rows(portal, result, 0)
        except _Failure as failure:
            if failure.fatal:
                raise
            self._error(failure)
        except Exception as error:  # not the client's doing: said, and logged here
            self._error(_unexpected(error))
        self._ready()

    def _prepare(self, sql: str, types: list[int]) -> _Prepared:
        command = _command(sql)
        return _Prepared(sql, types, command, 0 if command else _parameters(sql))

    def _parse(self, message: Any) -> None:
        from pygwire.messages import ParseComplete

        if message.statement and message.statement in self.statements:
            raise _Failure("42P05", f'prepared statement "{message.statement}" already exists')
        statements = _statements(message.query)
        if len(statements) > 1:
            raise _Failure("42601", "cannot insert multiple commands into a prepared statement")
        sql = statements[0] if statements else ""
        self.statements[message.statement] = self._prepare(sql, list(message.param_types))
        self._send(ParseComplete())

    def _bind(self, message: Any) -> None:
        from pygwire.messages import BindComplete

        prepared = self.statements.get(message.statement)
        if prepared is None:
            raise _Failure("26000", f'prepared statement "{message.statement}" does not exist')
        values = [
            _parameter(value, _format(message.param_formats, index), _oid(prepared.types, index))
            for index, value in enumerate(message.param_values)
        ]
        if len(values) != prepared.parameters:
            raise _Failure(
                "08P01",
                f"the statement has {prepared.parameters} parameters; {len(values)} were bound",
            )
        self.portals[message.portal] = _Portal(prepared, values, list(message.result_formats))
        self._send(BindComplete())

    def _describe(self, message: Any) -> None:
        from pygwire.messages import ParameterDescription

        if message.kind == "S":
            prepared = self.statements.get(message.name)
            if prepared is None:
                raise _Failure("26000", f'prepared statement "{message.name}" does not exist')
            text = _OIDS["text"][0]
            types = [_oid(prepared.types, i) or text for i in range(prepared.parameters)]
            self._send(ParameterDescription(type_oids=types))
            portal = _Portal(prepared, [None] * prepared.parameters, [])
            self._describe_rows(self._result(portal, 0), [])
            return
        portal = self._portal(message.name)
        self._describe_rows(self._result(portal, None), portal.formats)

    def _describe_rows(self, result: _Result, formats: list[int]) -> None:
        from pygwire.messages import FieldDescription, NoData, RowDescription

        if result.frame is None:
            self._send(NoData())
            return
        fields = []
        for index, (name, kind) in enumerate(result.columns):
            oid, size = _OIDS[kind]
            code = _format(formats, index)
            if code == 1 and kind not in _BINARY:
                raise _Failure("0A000", f"{name}: {kind} is sent as text only; ask for text")
            fields.append(
                FieldDescription(
                    name=name, type_oid=oid, type_size=size, type_modifier=-1, format_code=code
                )
            )
        self._send(RowDescription(fields=fields))

    def _execute(self, message: Any) -> None:
        portal = self._portal(message.portal)
        self._rows(portal, self._result(portal, None), message.max_rows)

    def _close(self, message: Any) -> None:
        from pygwire.messages import CloseComplete

        if message.kind == "S":
            self.statements.pop(message.name, None)
        else:
            self.portals.pop(message.name, None)
        self._send(CloseComplete())

    def _portal(self, name: str) -> _Portal:
        portal = self.portals.get(name)
        if portal is None:
            raise _Failure("34000", f'portal "{name}" does not exist')
        return portal

    def _result(self, portal: _Portal, limit: int | None) -> _Result:
        """The portal's rows, worked out once (``limit`` 0: only their columns)."""
        if portal.result is not None:
            return portal.result
        from pygwire.constants import TransactionStatus

        prepared = portal.prepared
        command = prepared.command
        if self.status == TransactionStatus.ERROR_TRANSACTION and not (
            command and command.ends_transaction
        ):
            raise _Failure(
                "25P02",
                "current transaction is aborted, commands ignored until end of transaction block",
            )
        if command is not None:
            result = command.run(self) if limit is None else command.describe()
        else:
            result = self._query(_bound(prepared.sql, portal.values), limit)
        if limit is None:
            portal.result = result
        return result

    def _query(self, sql: str, limit: int | None) -> _Result:
        if not sql.strip():
            return _Result([], None, "")
        self.cancel.clear()
        wanted = self.endpoint.limit if limit is None else limit
        try:
            answer = self.endpoint.answer(self.bench, sql, wanted, self._timeout(), self.cancel)
        except QueryError as error:
            raise _failure(error) from None
        except WorkbenchError as error:  # the store's word (a log the user may not see ...)
            raise _Failure("42000", str(error)) from None
        frame = answer.frame
        notices = []
        if not answer.complete and limit is None:
            count = "" if answer.total is None else f" of {answer.total:,}"
            notices.append(
                f"the first {frame.height:,}{count} rows (serve-sql --limit {wanted:,})"
                if answer.total is not None or wanted == frame.height
                else f"the first {frame.height:,} rows; counting the rest ran out of time"
            )
        columns = [(name, _kind(dtype)) for name, dtype in frame.schema.items()]
        return _Result(columns, frame, f"SELECT {frame.height}", notices)

    def _timeout(self) -> float:
        """The endpoint's timeout, or the session's ``statement_timeout`` if lower."""
        mine = _milliseconds(self.settings["statement_timeout"]) / 1000
        return min(self.endpoint.timeout, mine) if mine > 0 else self.endpoint.timeout

    def _rows(self, portal: _Portal, result: _Result, most: int) -> None:
        from pygwire.messages import CommandComplete, EmptyQueryResponse, PortalSuspended

        if result.frame is None:
            if result.tag:
                self._send(CommandComplete(tag=result.tag))
            else:
                self._send(EmptyQueryResponse())
            return
        if portal.sent == 0:
            for notice in result.notices:
                self._notice(notice)
        frame = result.frame
        end = frame.height if most <= 0 else min(frame.height, portal.sent + most)
        for row in _encoded(frame.slice(portal.sent, end - portal.sent), result, portal.formats):
            self.out += row
            if len(self.out) >= _FLUSH_BYTES:
                self._flush()
        portal.sent = end
        if end < frame.height:
            self._send(PortalSuspended())
        else:
            self._send(CommandComplete(tag=result.tag))


def _attributes(text: str) -> dict[str, str]:
    """A SCRAM message's ``k=v`` attributes."""
    found = {}
    for part in text.split(","):
        name, equals, value = part.partition("=")
        if equals:
            found[name] = value
    return found


# ------------------------------------------------------------------ session commands


@dataclass(frozen=True)
class _Command:
    """A statement the endpoint answers itself: a transaction's edge, a setting."""

    verb: str  # BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE, SET, RESET, SHOW, ...
    words: tuple[str, ...]  # the statement's tokens, as typed
    upper: tuple[str, ...]

    @property
    def ends_transaction(self) -> bool:
        return self.verb in ("COMMIT", "ROLLBACK")

    def describe(self) -> _Result:
        if self.verb != "SHOW":
            return _Result([], None, self.verb)
        if self.upper[1:2] == ("ALL",):
            return _Result([("name", "text"), ("setting", "text")], pl.DataFrame(), "SHOW")
        return _Result([(self.words[1].lower(), "text")], pl.DataFrame(), "SHOW")

    def run(self, session: _Session) -> _Result:
        from pygwire.constants import TransactionStatus

        status = session.status
        if self.verb == "BEGIN":
            _read_only(self)
            if status == TransactionStatus.IDLE:
                session.status = TransactionStatus.IN_TRANSACTION
            else:
                session._notice("there is already a transaction in progress")
            return _Result([], None, "BEGIN")
        if self.verb == "COMMIT":
            session.status = TransactionStatus.IDLE
            failed = status == TransactionStatus.ERROR_TRANSACTION
            return _Result([], None, "ROLLBACK" if failed else "COMMIT")
        if self.verb == "ROLLBACK":
            if "TO" in self.upper and status != TransactionStatus.IDLE:
                session.status = TransactionStatus.IN_TRANSACTION
            else:
                session.status = TransactionStatus.IDLE
            return _Result([], None, "ROLLBACK")
        if self.verb in ("SAVEPOINT", "RELEASE"):
            return _Result([], None, self.verb)
        if self.verb == "SET":
            _set(self, session.settings)
            return _Result([], None, "SET")
        if self.verb == "RESET":
            name = self.words[1].lower() if len(self.words) > 1 else ""
            if name == "all":
                session.settings = dict(SETTABLE)
            elif name in SETTABLE:
                session.settings[name] = SETTABLE[name]
            else:
                raise _Failure("42704", f'unrecognized configuration parameter "{name}"')
            return _Result([], None, "RESET")
        if self.verb == "SHOW":
            return _show(self, session.settings)
        if self.verb in ("DEALLOCATE", "DISCARD"):
            target = self.upper[-1] if len(self.upper) > 1 else ""
            if target == "ALL" or self.verb == "DISCARD":
                session.statements.clear()
                if self.verb == "DISCARD":
                    session.portals.clear()
                    session.settings = dict(SETTABLE)
            else:
                session.statements.pop(self.words[-1], None)
            return _Result([], None, f"{self.verb} ALL" if target == "ALL" else self.verb)
        raise AssertionError(self.verb)


_VERBS: Final = {
    "BEGIN": "BEGIN",
    "START": "BEGIN",
    "COMMIT": "COMMIT",
    "END": "COMMIT",
    "ROLLBACK": "ROLLBACK",
    "ABORT": "ROLLBACK",
    "SAVEPOINT": "SAVEPOINT",
    "RELEASE": "RELEASE",
    "SET": "SET",
    "RESET": "RESET",
    "SHOW": "SHOW",
    "DEALLOCATE": "DEALLOCATE",
    "DISCARD": "DISCARD",
}


def _command(sql: str) -> _Command | None:
    """The statement as a session command, if it is one (by its first word)."""
    words = _words(sql)
    if not words:
        return None
    verb = _VERBS.get(words[0].upper())
    if verb is None:
        return None
    if words[0].upper() == "START" and (len(words) < 2 or words[1].upper() != "TRANSACTION"):
        return None
    return _Command(verb, tuple(words), tuple(word.upper() for word in words))


def _words(sql: str) -> list[str]:
    """The statement's tokens as typed (strings without their quotes)."""
    from workbench.query import dialect

    try:
        tokens = dialect()().tokenize(sql)
    except Exception:  # not our grammar: the query path says what is wrong
        return sql.split()
    return [token.text for token in tokens if token.text != ";"]


def _read_only(command: _Command) -> None:
    text = " ".join(command.upper)
    if "READ WRITE" in text:
        raise _Failure("25006", f"{' '.join(command.words)}: this endpoint only reads")


def _set(command: _Command, settings: dict[str, str]) -> None:
    """``SET [SESSION|LOCAL] name TO|= value``, ``SET TIME ZONE value``, and the
    transaction modes (read-only only)."""
    words = list(command.words[1:])
    upper = [word.upper() for word in words]
    if upper[:1] in (["SESSION"], ["LOCAL"]):
        words, upper = words[1:], upper[1:]
    if not words:
        raise _Failure("42601", "SET what?")
    if upper[0] == "TRANSACTION" or upper[:2] == ["CHARACTERISTICS", "AS"]:
        _read_only(command)
        return
    if upper[:2] == ["TIME", "ZONE"]:
        name, values = "timezone", words[2:]
    else:
        name = words[0].lower()
        values = words[2:] if upper[1:2] in (["TO"], ["="]) else []
    if name not in SETTABLE:
        raise _Failure(
            "42501",
            f"SET {name} refused: this endpoint keeps its settings (a session may set"
            f" {', '.join(sorted(SETTABLE))})",
        )
    if not values:
        raise _Failure("42601", f"SET {name}: give a value (SET {name} TO ...)")
    value = ", ".join(v for v in values if v != ",")
    if value.upper() == "DEFAULT":
        value = SETTABLE[name]
    if name == "client_encoding" and value.upper().replace("-", "") not in ("UTF8", "UNICODE"):
        raise _Failure("22023", f"client_encoding {value}: this endpoint speaks UTF8 only")
    if name == "default_transaction_read_only" and value.lower() in ("off", "false", "0"):
        raise _Failure("25006", "default_transaction_read_only: this endpoint only reads")
    if name == "statement_timeout":
        _milliseconds(value)
    settings[name] = value


def _show(command: _Command, settings: dict[str, str]) -> _Result:
    if command.upper[1:2] == ("ALL",):
        frame = pl.DataFrame(
            {"name": list(settings), "setting": list(settings.values())},
            schema={"name": pl.String, "setting": pl.String},
        )
        return _Result([("name", "text"), ("setting", "text")], frame, "SHOW")
    name = " ".join(command.words[1:]).lower()
    name = "timezone" if name == "time zone" else name
    reported = {key.lower(): value for key, value in REPORTED.items()}
    if name in settings:
        value = settings[name]
    elif name in reported:
        value = reported[name]
    elif name == "transaction_read_only":
        value = "on"
    elif name == "transaction isolation level":
        value = "serializable"
    else:
        raise _Failure("42704", f'unrecognized configuration parameter "{name}"')
    frame = pl.DataFrame({name: [value]}, schema={name: pl.String})
    return _Result([(name, "text")], frame, "SHOW")


def _milliseconds(value: str) -> float:
    """``statement_timeout``'s value (milliseconds, or with a unit) in milliseconds."""
    text = value.strip().strip("'").strip().lower()
    units = {"ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
    for unit, factor in sorted(units.items(), key=lambda item: -len(item[0])):
        if text.endswith(unit) and text[: -len(unit)].strip().replace(".", "", 1).isdigit():
            return float(text[: -len(unit)]) * factor
    try:
        found = float(text)
    except ValueError:
        raise _Failure("22023", f"statement_timeout {value}: give milliseconds, or 5s") from None
    if found < 0:
        raise _Failure("22023", f"statement_timeout {value}: give 0 or more")
    return found


# ------------------------------------------------------------------ statements and parameters


def _statements(text: str) -> list[str]:
    """The statements in a query string (split at semicolons outside strings and
    comments), without empty ones."""
    from sqlglot.tokenizer_core import TokenType

    from workbench.query import dialect

    try:
        tokens = dialect()().tokenize(text)
    except Exception:  # one statement the grammar cannot read: the query says so
        return [text] if text.strip() else []
    parts, start, seen = [], 0, False
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            if seen:  # a part with tokens of its own (not only comments and blanks)
                parts.append(text[start : token.start])
            start, seen = token.end + 1, False
        else:
            seen = True
    if seen:
        parts.append(text[start:])
    return parts


def _placeholders(sql: str) -> list[tuple[int, int, int]]:
    """Each ``$n`` in the statement: where it starts and ends, and n."""
    from sqlglot.tokenizer_core import TokenType

    from workbench.query import dialect

    try:
        tokens = dialect()().tokenize(sql)
    except Exception:
        return []
    found = []
    for first, second in itertools.pairwise(tokens):
        if (
            first.token_type == TokenType.PARAMETER
            and second.token_type == TokenType.NUMBER
            and second.start == first.end + 1
            and second.text.isdigit()
        ):
            found.append((first.start, second.end + 1, int(second.text)))
    return found


def _parameters(sql: str) -> int:
    return max((number for _, _, number in _placeholders(sql)), default=0)


def _bound(sql: str, values: list[str | None]) -> str:
    """The statement with each ``$n`` replaced by its value as a literal: a query is then
    checked and run as any other."""
    for start, end, number in reversed(_placeholders(sql)):
        if number < 1 or number > len(values):
            raise _Failure("08P01", f"there is no parameter ${number}")
        value = values[number - 1]
        sql = sql[:start] + ("NULL" if value is None else value) + sql[end:]
    return sql


_NUMBERS: Final = {20: "BIGINT", 21: "SMALLINT", 23: "INTEGER", 26: "BIGINT"}
_CASTS: Final = {
    700: "REAL",
    701: "DOUBLE",
    1700: "DECIMAL",
    1082: "DATE",
    1083: "TIME",
    1114: "TIMESTAMP",
    1184: "TIMESTAMPTZ",
    1186: "INTERVAL",
    114: "JSON",
}


def _parameter(value: bytes | None, code: int, oid: int) -> str | None:
    """A bound parameter as a SQL literal of its type (its type's oid; 0: not said)."""
    if value is None:
        return None
    text = _binary_parameter(value, oid) if code == 1 else value.decode("utf-8")
    if oid in _NUMBERS:
        try:
            return str(int(text))
        except ValueError:
            raise _Failure("22P02", f"invalid input syntax for type integer: {text!r}") from None
    if oid == 16:
        truth = text.strip().lower()
        if truth in ("t", "true", "yes", "on", "1"):
            return "TRUE"
        if truth in ("f", "false", "no", "off", "0"):
            return "FALSE"
        raise _Failure("22P02", f"invalid input syntax for type boolean: {text!r}")
    quoted = "'" + text.replace("'", "''") + "'"
    cast = _CASTS.get(oid)
    return quoted if cast is None else f"CAST({quoted} AS {cast})"


def _binary_parameter(value: bytes, oid: int) -> str:
    """A parameter sent in binary, as text."""
    try:
        if oid == 16:
            return "true" if value == b"\x01" else "false"
        if oid in (20, 21, 23, 26):
            return str(int.from_bytes(value, "big", signed=True))
        if oid == 700:
            return repr(struct.unpack("!f", value)[0])
        if oid == 701:
            return repr(struct.unpack("!d", value)[0])
        if oid in (0, 25, 1043, 19, 114, 1042):
            return value.decode("utf-8")
        if oid == 1082:
            return (date(2000, 1, 1) + timedelta(days=struct.unpack("!i", value)[0])).isoformat()
        if oid in (1114, 1184):
            moment = _EPOCH + timedelta(microseconds=struct.unpack("!q", value)[0])
            return moment.isoformat() if oid == 1184 else moment.replace(tzinfo=None).isoformat()
    except (struct.error, UnicodeDecodeError):
        raise _Failure("22P03", f"a binary parameter of type {oid} that does not read") from None
    raise _Failure("0A000", f"binary parameters of type {oid} are not read here; send text")


def _format(formats: list[int], index: int) -> int:
    """The format code (0 text, 1 binary) of a column or parameter, as Bind gives them:
    none (all text), one (for all), or one each."""
    if not formats:
        return 0
    return formats[0] if len(formats) == 1 else formats[index]


def _oid(types: list[int], index: int) -> int:
    return types[index] if index < len(types) else 0


# ------------------------------------------------------------------ types and values

#: PostgreSQL's types as sent: name -> (oid, size; -1 for variable).
_OIDS: Final = {
    "bool": (16, 1),
    "bytea": (17, -1),
    "int8": (20, 8),
    "int2": (21, 2),
    "int4": (23, 4),
    "text": (25, -1),
    "json": (114, -1),
    "float4": (700, 4),
    "float8": (701, 8),
    "date": (1082, 4),
    "time": (1083, 8),
    "timestamp": (1114, 8),
    "timestamptz": (1184, 8),
    "interval": (1186, 16),
    "numeric": (1700, -1),
    "_bool": (1000, -1),
    "_int2": (1005, -1),
    "_int4": (1007, -1),
    "_text": (1009, -1),
    "_int8": (1016, -1),
    "_float4": (1021, -1),
    "_float8": (1022, -1),
    "_timestamp": (1115, -1),
    "_date": (1182, -1),
    "_timestamptz": (1185, -1),
    "_numeric": (1231, -1),
}


def _kind(dtype: pl.DataType) -> str:
    """The PostgreSQL type a column is sent as."""
    if dtype == pl.Boolean:
        return "bool"
    if dtype in (pl.Int8, pl.Int16, pl.UInt8):
        return "int2"
    if dtype in (pl.Int32, pl.UInt16):
        return "int4"
    if dtype in (pl.Int64, pl.UInt32):
        return "int8"
    if dtype.is_integer() or isinstance(dtype, pl.Decimal):
        return "numeric"
    if dtype == pl.Float32:
        return "float4"
    if dtype.is_float():
        return "float8"
    if dtype == pl.Binary:
        return "bytea"
    if dtype == pl.Date:
        return "date"
    if dtype == pl.Time:
        return "time"
    if isinstance(dtype, pl.Datetime):
        return "timestamp" if dtype.time_zone is None else "timestamptz"
    if isinstance(dtype, pl.Duration):
        return "interval"
    if isinstance(dtype, pl.Struct):
        return "json"
    if isinstance(dtype, pl.List | pl.Array):
        inside = dtype.inner
        inner = _kind(inside if isinstance(inside, pl.DataType) else inside())
        return f"_{inner}" if f"_{inner}" in _OIDS else "_text"
    return "text"


def _text(name: str, dtype: pl.DataType) -> pl.Expr:
    """A column as PostgreSQL's text output gives its type."""
    column = pl.col(name)
    kind = _kind(dtype)
    if kind == "bool":
        return pl.when(column).then(pl.lit("t")).when(column.not_()).then(pl.lit("f"))
    if kind in ("float4", "float8"):
        text = column.cast(pl.String)
        return (
            pl.when(column.is_infinite() & (column > 0))
            .then(pl.lit("Infinity"))
            .when(column.is_infinite())
            .then(pl.lit("-Infinity"))
            .otherwise(text)
        )
    if kind == "timestamptz":
        return column.dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%d %H:%M:%S%.6f+00")
    if kind == "timestamp":
        return column.dt.strftime("%Y-%m-%d %H:%M:%S%.6f")
    if kind == "date":
        return column.dt.strftime("%Y-%m-%d")
    if kind == "time":
        return column.dt.strftime("%H:%M:%S%.6f")
    if kind == "bytea":
        return pl.lit("\\x") + column.bin.encode("hex")
    if kind == "json":
        return column.struct.json_encode()
    if kind in ("interval",) or kind.startswith("_"):
        return column.map_elements(_literal, return_dtype=pl.String, skip_nulls=True)
    return column.cast(pl.String)


def _literal(value: Any) -> str:
    """One value as PostgreSQL's text output writes it (arrays and intervals)."""
    if isinstance(value, pl.Series):
        value = value.to_list()
    if isinstance(value, list):
        return "{" + ",".join(_element(item) for item in value) + "}"
    if isinstance(value, timedelta):
        sign = "-" if value < timedelta(0) else ""
        value = abs(value)
        hours, rest = divmod(value.seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        clock = f"{hours:02}:{minutes:02}:{seconds:02}.{value.microseconds:06}"
        return f"{sign}{value.days} days {sign}{clock}" if value.days else f"{sign}{clock}"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return str(value)


def _element(item: Any) -> str:
    if item is None:
        return "NULL"
    text = _literal(item)
    if isinstance(item, list):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


#: The types sent in binary when a client asks (the others only as text).
_BINARY: Final[dict[str, Callable[[Any], bytes]]] = {
    "bool": lambda v: b"\x01" if v else b"\x00",
    "int2": lambda v: struct.pack("!h", v),
    "int4": lambda v: struct.pack("!i", v),
    "int8": lambda v: struct.pack("!q", v),
    "float4": lambda v: struct.pack("!f", v),
    "float8": lambda v: struct.pack("!d", v),
    "text": lambda v: str(v).encode("utf-8"),
    "bytea": bytes,
    "date": lambda v: struct.pack("!i", (v - date(2000, 1, 1)).days),
    "time": lambda v: struct.pack(
        "!q", ((v.hour * 60 + v.minute) * 60 + v.second) * 1_000_000 + v.microsecond
    ),
    "timestamp": lambda v: struct.pack("!q", _micros(v.replace(tzinfo=UTC))),
    "timestamptz": lambda v: struct.pack("!q", _micros(v)),
}


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _encoded(frame: pl.DataFrame, result: _Result, formats: list[int]) -> Iterator[bytes]:
    """The rows as DataRow messages (their bytes)."""
    names = frame.columns
    texts = frame.select(_text(name, dtype).alias(name) for name, dtype in frame.schema.items())
    binary = [
        (index, _BINARY[kind])
        for index, (_, kind) in enumerate(result.columns)
        if _format(formats, index) == 1
    ]
    raw = frame.select(names[index] for index, _ in binary).rows() if binary else None
    count = struct.pack("!h", len(names))
    for number, row in enumerate(texts.iter_rows()):
        values: list[bytes | None] = [None if v is None else v.encode("utf-8") for v in row]
        if raw is not None:
            for (index, encode), value in zip(binary, raw[number], strict=True):
                values[index] = None if value is None else encode(value)
        body = bytearray(count)
        for value in values:
            if value is None:
                body += b"\xff\xff\xff\xff"
            else:
                body += struct.pack("!i", len(value))
                body += value
        yield b"D" + struct.pack("!i", len(body) + 4) + body


# ------------------------------------------------------------------ starting one


def tls_context(certificate: str, key: str) -> ssl.SSLContext:
    """A server-side TLS context of a certificate (chain) and its key, in PEM files."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certificate, key)
    return context


def start(endpoint: Endpoint, host: str, port: int) -> tuple[Server, threading.Thread]:
    """A server of ``endpoint`` listening on ``host:port`` (0: a free port), serving in a
    thread of its own; ``server.shutdown()`` stops it."""
    server = Server((host, port), endpoint)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
    )
    thread.start()
    return server, thread
