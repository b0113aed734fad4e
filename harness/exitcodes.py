"""Exit codes shared by every ``harness`` sub-command, so CI can branch on them."""

from __future__ import annotations

OK = 0
GATE_FAILED = 1  # a quality gate (or contract check, or breaking change) failed
USAGE = 2  # bad arguments or input (argparse uses 2 as well)
INVALID_RUN = 3  # results can't be trusted: saturated generator, set-up failure, server died
INTERRUPTED = 130

EPILOG = """exit codes:
  0    success, every gate passed
  1    a gate, contract check or breaking-change check failed
  2    usage error or invalid input
  3    invalid run: the load generator saturated, or set-up (server, containers) failed
  130  interrupted"""


class HarnessError(Exception):
    """An expected failure with a message for the user and the exit code to leave with."""

    def __init__(self, message: str, exit_code: int = USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code
