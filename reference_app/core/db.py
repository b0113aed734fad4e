"""Async SQLAlchemy engine and sessions, one engine per app instance (built in the lifespan).

The schema comes from Alembic; ``create_all`` exists only for in-process tests (``Env.TEST``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import StaticPool

from reference_app.core.config import Settings
from reference_app.core.errors import ServiceUnavailable


def build_engine(settings: Settings) -> AsyncEngine:
    url = settings.database_url
    # Pre-ping only where a connection can die under us (a server restarting, a proxy timing out);
    # an embedded SQLite file can't, and the ping cost a round trip through aiosqlite's thread per request.
    kwargs: dict[str, Any] = {"echo": settings.db_echo, "pool_pre_ping": not settings.is_sqlite}
    if settings.is_sqlite:
        if ":memory:" in url or url.rstrip("/").endswith("sqlite+aiosqlite:"):
            # One shared connection, or every session would see its own empty database.
            kwargs |= {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
        else:
            kwargs |= {"connect_args": {"timeout": settings.db_pool_timeout_s}}
    else:
        kwargs |= {
            "pool_size": settings.db_pool_size,
            "max_overflow": settings.db_max_overflow,
            "pool_timeout": settings.db_pool_timeout_s,
            "pool_recycle": 1800,
        }
        if url.startswith("postgresql+asyncpg"):
            # A slow query becomes a bounded 503 instead of a pinned connection.
            kwargs["connect_args"] = {
                "server_settings": {"statement_timeout": str(settings.db_statement_timeout_ms)},
                "timeout": settings.db_pool_timeout_s,
                # The client-side bound for a server that stops answering altogether (frozen, network
                # partition), where the server-side statement_timeout can't fire: twice that timeout.
                "command_timeout": command_timeout_s(settings),
            }
    engine = create_async_engine(url, **kwargs)
    if settings.is_sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def command_timeout_s(settings: Settings) -> float | None:
    """asyncpg's per-command client timeout: 2 x the statement timeout (at least 1 s); none if that is off."""
    if settings.db_statement_timeout_ms == 0:
        return None
    return max(1.0, 2 * settings.db_statement_timeout_ms / 1000)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    # WAL lets readers proceed during a write; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def build_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


#: SQLSTATEs that say "the database could not answer now", not "this request is wrong": the statement
#: timeout (57014 query_canceled), lock_timeout (55P03), and a server shutting down or starting up
#: (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now).
UNAVAILABLE_SQLSTATES = frozenset({"57014", "55P03", "57P01", "57P02", "57P03"})


def is_unavailable(exc: BaseException) -> bool:
    """A database failure that a retry may cure: pool timeout, statement timeout, lost or refused connection."""
    if isinstance(exc, PoolTimeoutError):
        return True
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or getattr(exc.orig, "sqlstate", None) in UNAVAILABLE_SQLSTATES
    # Connecting to a server that is down fails below the DBAPI layer (refused, reset, timed out).
    return isinstance(exc, ConnectionError | TimeoutError)


@contextlib.asynccontextmanager
async def _guarded(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """Rollback on any error, close always; a database that cannot answer now is a bounded 503.

    A busy pool, a statement timeout or a server that is down becomes a 503 with Retry-After,
    never a 500 and never a hang.
    """
    try:
        yield session
    except Exception as exc:
        if not is_unavailable(exc):
            await session.rollback()
            raise
        # The connection may be gone: a failed rollback must not turn the 503 into a 500.
        with contextlib.suppress(SQLAlchemyError, OSError):
            await session.rollback()
        raise ServiceUnavailable("The database is unavailable or busy; retry shortly.",
                                 headers={"Retry-After": "1"}) from exc
    except BaseException:
        await session.rollback()
        raise
    finally:
        await session.close()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request for routes that always use the database; commit is explicit in services."""
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with _guarded(maker()) as session:
        yield session


def open_session(request: Request) -> contextlib.AbstractAsyncContextManager[AsyncSession]:
    """A session opened where it is first needed, for paths that usually need none.

    The cached read and the principal lookup use it: on a hit they never create a session, so
    they pay neither the dependency's set-up nor a pooled connection.
    """
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    return _guarded(maker())


# scope="function": the session ends when the endpoint returns, before the response is sent. With the
# default ("request") it would live on through a streamed download and through every background task,
# holding its pooled connection (idle in transaction after a read) for as long as a slow client or a
# long job takes; background jobs open their own session from the app's sessionmaker.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
