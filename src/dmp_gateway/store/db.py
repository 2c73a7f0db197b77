"""Connection pools. Nothing is opened at import time; `bootstrap.py` opens and closes them."""

from __future__ import annotations

from psycopg import AsyncConnection
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import AsyncConnectionPool


async def open_pool(url: str, *, min_size: int = 2, max_size: int = 20, name: str = "dmpgw",
                    options: str | None = None) -> AsyncConnectionPool:
    """An open async pool; connections are autocommit so every write opens its own transaction.

    `options`: server settings for these connections (libpq `options`, e.g. `-c name=value`), added
    to any the URL already carries. The pool's `name` is its connections' `application_name` (unless the
    URL sets one), so `pg_stat_activity` tells the API's and worker's connections from the job queue's.
    """
    extra = {}
    if "application_name" not in conninfo_to_dict(url):
        extra["application_name"] = name
    if options:
        extra["options"] = " ".join(filter(None, (conninfo_to_dict(url).get("options"), options)))

    async def configure(conn: AsyncConnection) -> None:
        await conn.set_autocommit(True)

    pool = AsyncConnectionPool(
        url, min_size=min_size, max_size=max_size, open=False, name=name, configure=configure,
        kwargs={"prepare_threshold": 2, **extra},
    )
    await pool.open(wait=True, timeout=30)
    return pool


def sqlalchemy_url(url: str) -> str:
    """The same server for Alembic (SQLAlchemy with the psycopg 3 driver)."""
    params = conninfo_to_dict(url)
    host = params.pop("host", "")
    user = params.pop("user", "postgres")
    password = params.pop("password", "")
    dbname = params.pop("dbname", "postgres")
    port = params.pop("port", None)
    auth = f"{user}:{password}@" if password else f"{user}@"
    if host.startswith("/"):
        extra = "&".join(f"{k}={v}" for k, v in params.items())
        query = f"?host={host}" + (f"&port={port}" if port else "") + (f"&{extra}" if extra else "")
        return f"postgresql+psycopg://{auth}/{dbname}{query}"
    location = host or "localhost"
    if port:
        location += f":{port}"
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"postgresql+psycopg://{auth}{location}/{dbname}" + (f"?{query}" if query else "")


def with_database(url: str, dbname: str) -> str:
    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return make_conninfo(**params)


def create_database(admin_url: str, prefix: str = "dmpgw") -> str:
    """A new empty database on the server of `admin_url`, named `<prefix>_<random>`; its URL.

    For tests and benchmarks, which each want a database of their own on one shared server.
    """
    import uuid

    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    return with_database(admin_url, name)
