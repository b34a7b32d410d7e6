"""Engine set-up, read/write transactions, and schema upgrades through Alembic."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from .config import sqlalchemy_url
from .errors import DatabaseError

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# Writers wait this long for the SQLite write lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def _configure_sqlite(engine: Engine) -> None:
    """WAL, busy timeout, foreign keys, and explicit BEGIN modes.

    pysqlite's own transaction handling opens deferred transactions, and a deferred transaction that
    reads then writes fails at once with "database is locked" whatever busy_timeout says
    (PITFALLS.md). So the driver's handling is turned off and we emit BEGIN ourselves: IMMEDIATE for
    writers (they queue on busy_timeout), DEFERRED for readers (WAL lets them run beside a writer).
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # noqa: ANN001 - DB-API objects
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # NORMAL is durable across application crashes in WAL mode and much faster than FULL.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """One engine plus the two ways the code talks to it: `read()` and `write()` transactions."""

    def __init__(self, url: str):
        self.url = sqlalchemy_url(url)
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(self.url, connect_args={"check_same_thread": False})
            _configure_sqlite(self.engine)
        else:
            # psycopg prepares a statement after 5 runs, and PostgreSQL may then switch it to one generic plan
            # for all parameters; for the matches search (a topic of 50 matches or of 38,000) that plan was
            # 10-50x slower on some pages (bench/query.py). Custom plans keep each query planned for its values.
            self.engine = create_engine(self.url, pool_pre_ping=True, pool_size=5, max_overflow=10,
                                        connect_args={"options": "-c plan_cache_mode=force_custom_plan"})

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that will write; on SQLite it takes the write lock up front."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except OperationalError as exc:  # rolled back: nothing half-written stays
            hint = " Free some disk space and try again." if "full" in _short(exc).lower() else ""
            raise DatabaseError(f"The database could not be written ({_short(exc)}); nothing was changed.{hint}") from exc

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction; never blocks on SQLite's write lock."""
        try:
            with self.engine.connect() as conn:
                conn.execution_options(sqlite_begin="DEFERRED")
                with conn.begin():
                    yield conn
        except OperationalError as exc:
            raise DatabaseError(f"The database could not be read: {_short(exc)}") from exc

    def ping(self) -> None:
        with self.read() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def _short(exc: OperationalError) -> str:
    return str(exc.orig).splitlines()[0] if exc.orig else str(exc).splitlines()[0]


def alembic_config(db: Database):
    from alembic.config import Config

    if not (MIGRATIONS_DIR / "env.py").exists():
        raise DatabaseError(f"Migrations not found at {MIGRATIONS_DIR}; install Followup from its source tree.")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return cfg


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to `revision` (default: the newest). Safe to run on every start."""
    from alembic import command

    cfg = alembic_config(db)
    try:
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except OperationalError as exc:
        raise DatabaseError(f"Could not upgrade the database schema: {_short(exc)}") from exc


def current_revision(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()

