"""`python -m app.reminders.worker`: the reminder dispatcher as a process of its own.

Run one or more beside the app instances when they share PostgreSQL (set
REMINDERS_DISPATCHER=worker on the app instances so they do not also dispatch; running both is
safe, only wasteful). Stops cleanly on SIGTERM or Ctrl-C after the pass in progress.
"""

import logging
import signal
import sys
import threading

from app.process import freeze_startup_objects
from app.reminders.runner import loop
from app.web.access_log import configure_logging


def main() -> int:
    configure_logging()
    logging.getLogger("trochelog.reminders").info("reminder worker started")
    freeze_startup_objects()  # as the app does: each pass's collections skip what lives forever
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    loop(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
