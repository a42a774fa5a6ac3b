"""Running the dispatcher over and over: in a thread of the app process (the embedded default
under `make run`), or as its own process (app/reminders/worker.py) beside several app instances
sharing PostgreSQL. Either way, any number may run at once: claims keep them apart."""

import logging
import threading
import time

from app.config import settings
from app.db import utcnow

log = logging.getLogger("trochelog.reminders")

# Planning reads every active person's schedule: once a minute is soon enough (a +40 minute
# recheck is planned within a minute of its dose), sending runs every tick.
PLAN_EVERY_SECONDS = 60.0


def loop(stop: threading.Event, *, tick: float | None = None) -> None:
    from app.reminders import dispatcher

    tick = tick or settings.reminders_tick_seconds
    planned_at = 0.0
    while not stop.is_set():
        started = time.monotonic()
        plan = started - planned_at >= PLAN_EVERY_SECONDS
        try:
            summary = dispatcher.run_once(utcnow(), plan=plan)
            if plan:
                planned_at = started
            if summary.sent or summary.retried or summary.gone or summary.refused:
                log.info(
                    "reminders: sent %s, retrying %s, gone %s, refused %s",
                    summary.sent, summary.retried, summary.gone, summary.refused,
                )
        except Exception as exc:  # keep going: the next tick tries again
            # The class name only: a database error's text can carry PHI.
            log.error("reminder pass failed: %s", type(exc).__name__)
        stop.wait(max(0.0, tick - (time.monotonic() - started)))


class InProcessDispatcher:
    """The dispatcher as a daemon thread of the web app, started and stopped with it."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=loop, args=(self._stop,), name="reminder-dispatcher", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
