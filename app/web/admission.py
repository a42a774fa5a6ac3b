"""At most `max_requests_in_flight` requests inside the app at once, per process; the rest wait
here, in the event loop, where waiting costs nothing.

Why: route handlers and the request's database session run in a pool of 40 threads, and the
session commits in its dependency's teardown, which needs a thread too. Under 50 concurrent
users every thread could be taken by requests waiting for a database connection or for
SQLite's write lock, while the request holding that connection or lock waited for a thread to
commit: everything stalled until the 30 s pool timeout (measured by bench/load.py). Admitting
fewer requests than there are threads and connections keeps one free for whoever must finish.
A request that cannot get in within `admission_wait_seconds` is answered 503 + Retry-After
(app/main.py), which the outbox treats as "send again later".
"""

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import settings


class Busy(Exception):
    """The process is at its limit of requests in flight and this one waited long enough."""


class AdmissionMiddleware:
    def __init__(self, app: ASGIApp, limit: int | None = None,
                 wait_seconds: float | None = None) -> None:
        self.app = app
        self.limit = limit or settings.max_requests_in_flight
        self.wait_seconds = wait_seconds if wait_seconds is not None \
            else settings.admission_wait_seconds
        self._slots = asyncio.Semaphore(self.limit)
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # Made inside the loop that serves (a server has one; tests' clients may start
            # several, and a semaphore cannot wait in a loop other than its own).
            self._slots, self._loop = asyncio.Semaphore(self.limit), loop
        if self._slots.locked():
            try:
                await asyncio.wait_for(self._slots.acquire(), timeout=self.wait_seconds)
            except TimeoutError:
                raise Busy() from None
        else:
            # A slot is free and nobody waits: take it at once, without the task and timer
            # wait_for makes on every call (the common case, on every request).
            await self._slots.acquire()
        try:
            await self.app(scope, receive, send)
        finally:
            self._slots.release()
