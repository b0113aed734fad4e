"""Fail a test that leaves threads, child processes or listening sockets behind (a pytest plugin).

A resource a test forgets to release does not fail that test: it fails a later one, at random, by
holding a port, eating CPU or answering requests meant for someone else. So every test is checked
where the leak happens. The baseline is taken by an autouse fixture, which pytest sets up after every
session-, package-, module- and class-scoped fixture the test uses and tears down after every other
function-scoped one: a wider fixture's server or thread is in the baseline, and whatever the test
and its own fixtures started must be gone by the end of its teardown.

Cheap on the common path (one ``threading.enumerate()``, one ``/proc/self`` listing each for
children and descriptors). Something that is still stopping gets a short grace period, because
pools stop their threads asynchronously (``executor.shutdown(wait=False)`` when a loop closes).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

#: Time a stopping thread or process gets to finish before it counts as left behind. Spent only
#: when something new is still there, so a clean test pays nothing.
GRACE_S = 5.0
_TCP_LISTEN = "0A"  # st column of /proc/net/tcp{,6}


@dataclass(frozen=True)
class Snapshot:
    threads: frozenset[threading.Thread]
    children: frozenset[int]
    sockets: frozenset[str]  # inode numbers of this process's socket descriptors


def _children() -> set[int]:
    """Live (non-zombie) direct children of this process, from every thread's children list."""
    pids: set[int] = set()
    task_dir = Path("/proc/self/task")
    for task in task_dir.iterdir():
        with contextlib.suppress(OSError):
            pids.update(int(p) for p in (task / "children").read_text().split())
    return {pid for pid in pids if _alive(pid)}


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _socket_inodes() -> set[str]:
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    return inodes


def _listening(inodes: set[str]) -> list[str]:
    """``host:port`` of the TCP sockets among ``inodes`` that are listening."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as fh:
            next(fh)
            for line in fh:
                cols = line.split()
                if cols[3] == _TCP_LISTEN and cols[9] in inodes:
                    found.append(f"port {int(cols[1].rpartition(':')[2], 16)} ({table.rpartition('/')[2]})")
    return found


def snapshot() -> Snapshot:
    return Snapshot(frozenset(threading.enumerate()), frozenset(_children()), frozenset(_socket_inodes()))


def leaks(before: Snapshot, grace_s: float | None = None) -> list[str]:
    """What exists now that did not in ``before`` and does not go away within ``grace_s``."""
    deadline = time.monotonic() + (GRACE_S if grace_s is None else grace_s)
    new_threads = [t for t in threading.enumerate()
                   if t not in before.threads and t is not threading.current_thread()
                   and not _pooled_by_an_older_loop(t, before) and not _grown_pool(t, before)]
    for thread in new_threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    found = [f"thread {t.name!r} (daemon={t.daemon}, target={getattr(t, '_target', None)!r})"
             for t in new_threads if t.is_alive()]
    new_children = _children() - before.children
    while new_children and time.monotonic() < deadline:
        time.sleep(0.05)
        new_children = {pid for pid in new_children if _alive(pid)}
    found += [f"child process {pid}: {_cmdline(pid)}" for pid in sorted(new_children)]
    new_sockets = _socket_inodes() - before.sockets
    if new_sockets:  # the rare path: only now read the system-wide TCP tables
        found += [f"listening socket, {where}" for where in _listening(set(new_sockets))]
    return found


def _pooled_by_an_older_loop(thread: threading.Thread, before: Snapshot) -> bool:
    """An AnyIO worker of an event loop that ran in a thread already there before the test.

    Such a loop (schemathesis' in-process transport keeps one for the whole process) owns a worker
    pool that grows on demand and retires idle workers on its own schedule: a worker it adds
    during a test belongs to the loop, not to the test. A worker of a loop the test started is
    still checked, as is the loop's own thread.
    """
    loop = getattr(thread, "loop", None)  # anyio's WorkerThread keeps the loop that owns it
    if type(thread).__name__ != "WorkerThread" or loop is None or loop.is_closed():
        return False
    loop_thread = getattr(loop, "_thread_id", None)  # asyncio: the ident of the thread running it
    return any(t.ident == loop_thread for t in before.threads if t.is_alive())


def _pool_queue(thread: threading.Thread) -> object | None:
    """The work queue of a ``concurrent.futures.ThreadPoolExecutor`` thread (shared by its pool), else None."""
    target = getattr(thread, "_target", None)
    args = getattr(thread, "_args", ())
    if getattr(target, "__module__", None) != "concurrent.futures.thread" or len(args) < 2:
        return None
    return args[1]


def _grown_pool(thread: threading.Thread, before: Snapshot) -> bool:
    """A new thread of a thread pool that already had a thread before the test.

    Such a pool grows on demand, one thread per concurrent job up to its size: an event loop's
    default executor (``getaddrinfo``, ``to_thread``) of a module-scoped loop adds ``asyncio_1``
    in whichever test first runs two blocking calls at once. The thread belongs to the pool's
    owner, a wider fixture. A pool the test created itself has no thread in the baseline and is
    still checked.
    """
    queue = _pool_queue(thread)
    return queue is not None and any(_pool_queue(t) is queue for t in before.threads if t.is_alive())


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


@pytest.fixture(autouse=True)
def _no_leaked_resources(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test (as a teardown error) if it leaves a thread, a child process or an open port."""
    before = snapshot()
    yield
    left = leaks(before)
    if left:
        pytest.fail(f"{request.node.nodeid} left behind (stop it in the test or its fixture):\n  "
                    + "\n  ".join(left), pytrace=False)
