"""Work notifications over real Redis pub/sub: two notifiers stand for two API replicas."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis

from app.core.config import Settings
from app.core.notifications import CHANNEL, WorkNotifier

StartNotifier = Callable[[], Awaitable[WorkNotifier]]

# Generous for a local Redis: the tests wait this long only when something is broken.
DELIVERY_TIMEOUT = 1.0


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def channel() -> str:
    """A channel of this test's own: the suite's running apps listen on the real one."""
    return f"{CHANNEL}:test:{uuid.uuid4()}"


@pytest.fixture
async def start_notifier(redis: Redis, channel: str) -> AsyncIterator[StartNotifier]:
    """`await start_notifier()` — a started notifier (a replica), stopped after the test."""
    notifiers: list[WorkNotifier] = []

    async def _start() -> WorkNotifier:
        notifier = WorkNotifier(redis, channel=channel)
        notifiers.append(notifier)
        await notifier.start()
        return notifier

    yield _start
    for notifier in notifiers:
        await notifier.stop()


async def subscribers(redis: Redis, channel: str) -> int:
    counts = await redis.pubsub_numsub(channel)
    return int(counts[0][1])


async def eventually(condition: Callable[[], Awaitable[bool]]) -> bool:
    """Poll `condition` until true or DELIVERY_TIMEOUT (Redis sees closed sockets late)."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while not await condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def test_publish_in_one_replica_wakes_a_waiter_in_another(
    start_notifier: StartNotifier,
) -> None:
    publisher, listener = await start_notifier(), await start_notifier()

    with listener.waiter(["orders", "invoices"]) as waiter:
        started = time.monotonic()
        await publisher.publish(["invoices"])
        assert await waiter.wait(DELIVERY_TIMEOUT) is True
        assert time.monotonic() - started < 0.5


async def test_waiter_on_an_unrelated_topic_is_not_woken(start_notifier: StartNotifier) -> None:
    publisher, listener = await start_notifier(), await start_notifier()

    with listener.waiter(["orders"]) as related, listener.waiter(["invoices"]) as unrelated:
        await publisher.publish(["orders"])
        assert await related.wait(DELIVERY_TIMEOUT) is True
        # The message has been dispatched (it woke `related`); `unrelated` just times out.
        assert await unrelated.wait(0.05) is False


async def test_wake_between_registration_and_wait_is_not_lost(
    start_notifier: StartNotifier,
) -> None:
    publisher, listener = await start_notifier(), await start_notifier()

    with listener.waiter(["orders"]) as waiter, listener.waiter(["orders"]) as probe:
        await publisher.publish(["orders"])  # "committed while we checked the database"
        assert await probe.wait(DELIVERY_TIMEOUT) is True  # the message has been dispatched
        assert await waiter.wait(0) is True  # remembered, not caught live
        assert await waiter.wait(0) is False  # and consumed by the first wait


async def test_wait_times_out_with_false(start_notifier: StartNotifier) -> None:
    notifier = await start_notifier()

    with notifier.waiter(["orders"]) as waiter:
        started = time.monotonic()
        assert await waiter.wait(0.05) is False
        assert time.monotonic() - started >= 0.05
        assert notifier.waiting == 1


async def test_waiter_that_left_its_with_block_is_no_longer_tracked(
    start_notifier: StartNotifier,
) -> None:
    publisher, listener = await start_notifier(), await start_notifier()

    with listener.waiter(["orders"]) as gone, listener.waiter(["orders", "invoices"]):
        assert listener.waiting == 2
    assert listener.waiting == 0

    with listener.waiter(["orders"]) as probe:
        await publisher.publish(["orders", "invoices"])
        assert await probe.wait(DELIVERY_TIMEOUT) is True
    assert await gone.wait(0) is False


async def test_publish_sends_one_sorted_deduplicated_list_and_skips_empty(
    start_notifier: StartNotifier, redis: Redis, channel: str
) -> None:
    notifier = await start_notifier()
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel)
    await pubsub.get_message(timeout=DELIVERY_TIMEOUT)  # the subscribe confirmation

    await notifier.publish([])
    await notifier.publish(["orders", "invoices", "orders"])

    message = await pubsub.get_message(timeout=DELIVERY_TIMEOUT)
    assert message is not None
    assert message["data"] == b'["invoices", "orders"]'
    assert await pubsub.get_message(timeout=0.05) is None
    await pubsub.aclose()  # type: ignore[no-untyped-call]


async def test_malformed_messages_are_ignored(
    start_notifier: StartNotifier, redis: Redis, caplog: pytest.LogCaptureFixture, channel: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="app.core.notifications")
    notifier = await start_notifier()  # one replica, so each message is logged once

    with notifier.waiter(["orders"]) as orders, notifier.waiter(["invoices"]) as invoices:
        for garbage in (b"not json", b'{"orders": 1}', b'["orders", 7]', b"\xff"):
            await redis.publish(channel, garbage)
        await notifier.publish(["invoices"])  # after the garbage, on the same channel

        assert await invoices.wait(DELIVERY_TIMEOUT) is True  # the listener is still alive
        assert await orders.wait(0) is False
    assert [r.levelno for r in caplog.records if "malformed" in r.message] == [logging.DEBUG] * 4


async def test_stop_closes_the_subscription_and_start_is_idempotent(
    start_notifier: StartNotifier, redis: Redis, channel: str
) -> None:
    notifier = await start_notifier()
    await notifier.start()
    assert await subscribers(redis, channel) == 1

    await notifier.stop()
    await notifier.stop()
    assert await eventually(lambda: _has_subscribers(redis, channel, 0))

    await notifier.start()  # a stopped notifier can start again
    assert await subscribers(redis, channel) == 1


async def test_lost_connection_is_logged_restored_and_wakes_every_waiter(
    start_notifier: StartNotifier, redis: Redis, caplog: pytest.LogCaptureFixture, channel: str
) -> None:
    publisher, listener = await start_notifier(), await start_notifier()

    with listener.waiter(["orders"]) as waiter:
        # Every pubsub connection: both replicas (and any app of the suite, which reconnects).
        assert await redis.client_kill_filter(_type="pubsub") >= 2
        # Woken by the resubscription: it may have missed messages while disconnected.
        assert await waiter.wait(DELIVERY_TIMEOUT) is True
    assert any(
        r.levelno == logging.WARNING and "subscription lost" in r.message for r in caplog.records
    )

    assert await eventually(lambda: _has_subscribers(redis, channel, 2))  # both replicas are back
    with listener.waiter(["invoices"]) as waiter:
        await publisher.publish(["invoices"])
        assert await waiter.wait(DELIVERY_TIMEOUT) is True


async def test_failed_publish_is_logged_and_still_wakes_local_waiters(
    caplog: pytest.LogCaptureFixture, channel: str
) -> None:
    unreachable = Redis.from_url("redis://127.0.0.1:1/0")  # nothing listens on port 1
    notifier = WorkNotifier(unreachable)

    with notifier.waiter(["orders"]) as waiter:
        await notifier.publish(["orders"])  # does not raise: the work is already committed
        assert await waiter.wait(0) is True
    assert any("PUBLISH failed" in r.message for r in caplog.records)
    await unreachable.aclose()


async def _has_subscribers(redis: Redis, channel: str, count: int) -> bool:
    return await subscribers(redis, channel) == count
