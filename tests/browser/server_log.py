"""What reached the live server (the browser tests' uvicorn runs in this process), read from
the app's access log."""

import logging
import re
import time

from tests.browser.conftest import TIMEOUT_MS


class ServerRequests(logging.Handler):
    """What reached the live server, as the access log names it ("GET /static/{path} 200")."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        method, route = record.getMessage().split()[:2]
        self.seen.append(f"{method} {route}")

    def wait_for(self, pattern: str, timeout_ms: int = TIMEOUT_MS) -> None:
        """Until a request matching `pattern` has been logged: its line is written when the
        answer ends, after the browser may already have it all (a download)."""
        deadline = time.monotonic() + timeout_ms / 1000
        while not any(re.fullmatch(pattern, r) for r in self.seen):
            assert time.monotonic() < deadline, f"no {pattern} in {self.seen}"
            time.sleep(0.05)

    def __enter__(self) -> "ServerRequests":
        logging.getLogger("trochelog.access").addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        logging.getLogger("trochelog.access").removeHandler(self)
