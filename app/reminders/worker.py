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

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}

log = logging.getLogger("trochelog.reminders")


def main() -> int:
    configure_logging()
    log.info("reminder worker started")
    freeze_startup_objects()  # as the app does: each pass's collections skip what lives forever
    stop = threading.Event()
    # No Python signal handler. One that called stop.set() ran on this thread whenever the
    # signal came, including while the loop sat inside stop.wait() holding the Event's own lock:
    # set() then waited for that lock for ever and the worker ignored SIGTERM until killed (a
    # CI run saw it). The signals are blocked before the dispatcher's thread starts, so it
    # inherits the block, and this thread takes them with sigwait, holding nothing.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    dispatcher = threading.Thread(target=loop, args=(stop,), name="reminder-dispatcher")
    dispatcher.start()
    received = signal.sigwait(STOP_SIGNALS)
    log.info("reminder worker stopping (%s)", signal.Signals(received).name)
    stop.set()
    dispatcher.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
