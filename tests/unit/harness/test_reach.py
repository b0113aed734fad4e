"""``harness.reach``: a service that does not answer is exit 3 in one line naming the URL; any answer will do."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from harness.exitcodes import HarnessError
from harness.reach import require_answer


class _NotFound(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the test output clean


@pytest.fixture
def answering_url() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_any_status_is_an_answer(answering_url: str) -> None:
    require_answer(answering_url, "--url", trust_env=False)  # a 404 is an answer: no error


def test_a_refused_connection_is_exit_3_in_one_line_naming_the_url() -> None:
    with socket.socket() as held:  # bound, not listening: connecting is refused
        held.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{held.getsockname()[1]}"
        with pytest.raises(HarnessError) as err:
            require_answer(url, "--url", timeout_s=2, trust_env=False)
    assert err.value.exit_code == 3
    message = str(err.value)
    assert message.startswith(f"--url: {url} does not answer (ConnectError: ")
    assert "\n" not in message


def test_a_silent_server_is_not_an_answer() -> None:
    """Accepts the connection, never responds: bounded by the timeout, and exit 3."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(HarnessError, match="ReadTimeout") as err:
            require_answer(url, "arm a", timeout_s=0.5, trust_env=False)
    assert err.value.exit_code == 3
    assert url in str(err.value)
