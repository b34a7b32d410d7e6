"""Alembic environment. `service.db.upgrade()` passes its own connection; the `alembic` CLI uses alembic.ini."""

from alembic import context
from sqlalchemy import engine_from_config, pool

from service.config import Settings, sqlalchemy_url
from service.models import Base

config = context.config
target_metadata = Base.metadata

# Full-text shadow tables are managed by hand in revisions; autogenerate must not try to drop them.
_UNMANAGED_PREFIXES = ("entries_fts",)


def _include_name(name, type_, parent_names):  # noqa: ANN001
    if type_ == "table" and name and name.startswith(_UNMANAGED_PREFIXES):
        return False
    return True


def _configure(connection) -> None:  # noqa: ANN001
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_name=_include_name,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url") or Settings().database_url
    engine = engine_from_config({"sqlalchemy.url": sqlalchemy_url(url)}, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()


def run_migrations_offline() -> None:
    url = config.get_main_option("sqlalchemy.url") or Settings().database_url
    context.configure(url=sqlalchemy_url(url), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
