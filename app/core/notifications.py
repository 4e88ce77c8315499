"""Work notifications: wake long-polling external-task fetches when new work is committed.

`POST /external-task/fetchAndLock` with `asyncResponseTimeout` must not hold a database
connection while it waits. The fetch registers a waiter for its topics, checks the
database, and if nothing is there releases its session and waits here; whoever commits new
work for a topic publishes the topic names once, after the commit. The publish goes through
Redis pub/sub so that it reaches waiters in every API replica.

Each process holds ONE subscription (a `WorkNotifier`, built in `lifespan`) and fans
messages out to its local waiters, so a thousand waiting clients cost one Redis connection,
not a thousand. Notifications are a latency optimisation, not a delivery guarantee: while
Redis is unreachable the waiters simply time out, and callers re-check the database on
each wake-up and at least once per timeout anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable
from types import TracebackType
from typing import Final

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import after_commit

logger = logging.getLogger(__name__)

CHANNEL: Final = "tessera:work"

# How long `start()` waits for the first subscription before letting the app start anyway
# (the listener keeps retrying in the background).
START_TIMEOUT_SECONDS: Final = 2.0
# Reconnect backoff after the subscription broke: doubles from the first to the last value,
# and starts over once a subscription succeeded again.
RECONNECT_MIN_DELAY_SECONDS: Final = 0.1
RECONNECT_MAX_DELAY_SECONDS: Final = 5.0
# An idle subscription is PINGed this often; a second silent interval counts as a dead
# connection (a half-open TCP connection would otherwise never raise).
IDLE_PING_SECONDS: Final = 30.0
# A PUBLISH runs after the commit, in the request: it must not hang the response.
PUBLISH_TIMEOUT_SECONDS: Final = 2.0


class Waiter:
    """Waits for work on some topics; registered from creation until its `with` block ends.

    A wake that arrives before `wait()` is called is remembered, so the caller can register,
    check the database, and only then wait without missing a commit in between.
    """

    def __init__(self, notifier: WorkNotifier, topics: frozenset[str]) -> None:
        self.topics = topics
        self._notifier = notifier
        self._event = asyncio.Event()

    def __enter__(self) -> Waiter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._notifier._unregister(self)

    async def wait(self, timeout: float) -> bool:  # noqa: ASYNC109 (the long poll's own deadline)
        """True when work may have arrived for one of the topics, False after `timeout`.

        The wake is consumed: a later `wait()` returns True only for a newer wake, so a
        caller can loop "check the database, wait" with one waiter.
        """
        if not self._event.is_set() and timeout > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._event.wait()
        woken = self._event.is_set()
        self._event.clear()
        return woken

    def _wake(self) -> None:
        self._event.set()


class WorkNotifier:
    """One Redis pub/sub subscription per process; local waiters per topic."""

    def __init__(self, redis: Redis, *, channel: str = CHANNEL) -> None:
        self._channel = channel
        self._redis = redis
        self._by_topic: dict[str, set[Waiter]] = {}
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    @property
    def waiting(self) -> int:
        """How many waiters are registered (for metrics and tests)."""
        return len({w for waiters in self._by_topic.values() for w in waiters})

    async def start(self) -> None:
        """Subscribe and start the listener; waits (briefly) for the subscription. Idempotent."""
        if self._task is not None and not self._task.done():
            return
        self._subscribed.clear()
        self._task = asyncio.create_task(self._listen_forever(), name="tessera-work-notifier")
        try:
            await asyncio.wait_for(self._subscribed.wait(), START_TIMEOUT_SECONDS)
        except TimeoutError:
            logger.warning(
                "work notifications: no Redis subscription after %.0fs; starting without it "
                "(long polls wait until their timeout until it is back)",
                START_TIMEOUT_SECONDS,
            )

    async def stop(self) -> None:
        """Cancel the listener; its pub/sub connection is closed as it unwinds."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # stop() itself was cancelled, not just the listener

    async def publish(self, topics: Iterable[str]) -> None:
        """Tell every replica that work for `topics` was committed. Call after the commit.

        Best effort: the work is already committed, so a Redis failure is logged, not
        raised; this process's own waiters are then woken directly.
        """
        names = sorted(set(topics))
        if not names:
            return
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
                await self._redis.publish(self._channel, json.dumps(names))
        except (RedisError, OSError) as error:
            logger.warning(
                "work notifications: PUBLISH failed (%s: %s)", type(error).__name__, error
            )
            self._wake_topics(names)

    def waiter(self, topics: Iterable[str]) -> Waiter:
        """A waiter for `topics`, registered now: create it BEFORE checking the database."""
        waiter = Waiter(self, frozenset(topics))
        for topic in waiter.topics:
            self._by_topic.setdefault(topic, set()).add(waiter)
        return waiter

    def _unregister(self, waiter: Waiter) -> None:
        for topic in waiter.topics:
            waiters = self._by_topic.get(topic)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._by_topic[topic]

    def _wake_topics(self, topics: Iterable[str]) -> None:
        for topic in topics:
            for waiter in self._by_topic.get(topic, ()):
                waiter._wake()

    def _wake_all(self) -> None:
        for waiters in self._by_topic.values():
            for waiter in waiters:
                waiter._wake()

    async def _listen_forever(self) -> None:
        """Keep one subscription alive; never raises except when cancelled."""
        delay = RECONNECT_MIN_DELAY_SECONDS
        while True:
            self._subscribed.clear()
            try:
                await self._listen()
            except (RedisError, OSError) as error:
                logger.warning(
                    "work notifications: Redis subscription lost (%s: %s); reconnecting",
                    type(error).__name__,
                    error,
                )
            except Exception:
                logger.exception("work notifications: listener failed; restarting it")
            if self._subscribed.is_set():
                delay = RECONNECT_MIN_DELAY_SECONDS
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_DELAY_SECONDS)

    async def _listen(self) -> None:
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(self._channel)
            unanswered_ping = False
            while True:
                message = await pubsub.get_message(timeout=IDLE_PING_SECONDS)
                if message is None:
                    if unanswered_ping:
                        raise RedisConnectionError(f"no answer for {2 * IDLE_PING_SECONDS:.0f}s")
                    await pubsub.ping()
                    unanswered_ping = True
                    continue
                unanswered_ping = False
                if message["type"] == "subscribe":
                    # Subscribed (again): anything published while we were not may be lost,
                    # so every waiter re-checks the database.
                    self._subscribed.set()
                    self._wake_all()
                elif message["type"] == "message":
                    self._dispatch(message["data"])
        finally:
            # Closing a connection that already broke must not replace the original error.
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis 5

    def _dispatch(self, data: bytes | str) -> None:
        try:
            topics = json.loads(data)
        except ValueError:
            topics = None
        if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
            logger.debug("work notifications: ignored a malformed message %r", data[:200])
            return
        self._wake_topics(topics)


# --------------------------------------------------------------------------- per unit of work

_NOTIFIER: Final = "tessera.notifier"
_ANNOUNCED: Final = "tessera.announced_topics"


def bind_notifier(session: AsyncSession, notifier: WorkNotifier | None) -> None:
    """Let `announce_work()` in this unit of work publish through `notifier`."""
    session.info[_NOTIFIER] = notifier


def announce_work(session: AsyncSession, topics: Iterable[str]) -> None:
    """New work for `topics` is part of this unit of work: publish the topics once it has
    committed (never if it rolls back). Without a bound notifier (a script, a test), the
    waiters find the work at their next re-check."""
    notifier: WorkNotifier | None = session.info.get(_NOTIFIER)
    if notifier is None:
        return
    pending: set[str] | None = session.info.get(_ANNOUNCED)
    if pending is None:
        pending = session.info[_ANNOUNCED] = set()
        announced = pending

        async def publish() -> None:
            session.info.pop(_ANNOUNCED, None)
            await notifier.publish(announced)

        after_commit(session, publish)
    pending.update(topics)
