"""`python -m app.reminders.worker` as a child of the test, started and stopped as compose.yml's
worker service is: SIGTERM, then its exit code and what it printed."""

import os
import signal
import subprocess
import sys
import threading

import pytest

from app.config import ROOT


class Worker:
    def __init__(self, **env: str) -> None:
        env = {**os.environ, "REMINDERS_TICK_SECONDS": "0.2", "REMINDERS_DISPATCHER": "worker",
               **env}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.reminders.worker"], cwd=ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        # Read as it comes, so a chatty worker never blocks on a full pipe while the test waits.
        self._lines: list[str] = []
        self.timed_out: str | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.append(line)

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, signum: int = signal.SIGTERM) -> str:
        """Signal it and return what it printed. A worker still running 30 s later is killed
        and `timed_out` set, never raised here: a test stopping several workers in `finally`
        must stop them all before it fails, or the rest outlive it."""
        self.process.send_signal(signum)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.timed_out = signal.Signals(signum).name
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=5)
        assert self.process.stdout is not None
        self.process.stdout.close()
        return self.output

    def assert_stopped_cleanly(self) -> None:
        if self.timed_out:
            pytest.fail(f"the worker did not stop within 30 s of {self.timed_out}:\n{self.output}")
        assert self.process.returncode == 0, self.output

    @property
    def output(self) -> str:
        return "".join(self._lines)
