"""Does a running service answer? Asked once, before any work is planned around it.

A service that is down is a set-up failure (exit 3, naming the URL), never a result: fuzzing a dead
URL would report every connection error as a contract failure (exit 1), and a load round against
one would measure nothing. Any HTTP status counts as an answer: the check is about reachability,
and the command itself judges what the service says.
"""

from __future__ import annotations

from harness import exitcodes

TIMEOUT_S = 5.0


def require_answer(url: str, what: str, *, timeout_s: float = TIMEOUT_S, trust_env: bool = True) -> None:
    """Raise ``HarnessError`` (exit 3, one line naming ``url``) unless a GET of ``url`` gets a response.

    ``trust_env``: honour proxy variables as the client that will talk to the service does
    (schemathesis does; the load generator only ever targets loopback and ignores them).
    """
    import httpx  # ~0.1-0.3 s to import: only when a URL is checked, not on every `harness` start-up

    try:
        with httpx.Client(timeout=timeout_s, trust_env=trust_env) as client:
            client.get(url)
    except httpx.HTTPError as exc:
        reason = " ".join(str(exc).split()) or "no response"  # one line, whatever the exception says
        raise exitcodes.HarnessError(f"{what}: {url} does not answer ({type(exc).__name__}: {reason})",
                                     exitcodes.INVALID_RUN) from exc
