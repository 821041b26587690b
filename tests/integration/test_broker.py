"""The broker transport: kombu's Redis transport reusing one client per channel."""

from __future__ import annotations

import pytest

from tasks.broker import Transport, broker_url

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("redis_url", "broker"),
    [
        ("redis://127.0.0.1:6379/14", "adjredis://127.0.0.1:6379/14"),
        ("redis://:secret@cache:6380", "adjredis://:secret@cache:6380"),
        ("unix:///data/redis.sock?db=3", "adjredis+socket:///data/redis.sock?virtual_host=3"),
        ("unix:///data/redis.sock", "adjredis+socket:///data/redis.sock?virtual_host=0"),
        ("rediss://cache:6380/0", "rediss://cache:6380/0"),  # TLS: kombu's own transport
    ],
)
def test_the_broker_url_names_our_transport_where_it_applies(redis_url, broker):
    assert broker_url(redis_url) == broker


def test_a_channel_hands_out_one_client_for_every_command(celery_app):
    with celery_app.connection_for_write() as connection:
        assert isinstance(connection.transport, Transport)
        channel = connection.default_channel
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
            assert first is second
        given = object()
        with channel.conn_or_acquire(given) as client:
            assert client is given


def test_a_message_goes_round_and_its_ack_clears_the_unacked_index(
    celery_app, redis_client, key_prefix
):
    # redis_client deletes the keys named with key_prefix (the queue and its binding)
    queue_name = f"broker-{key_prefix}"
    with celery_app.connection_for_write() as connection:
        channel = connection.default_channel
        queue = connection.SimpleQueue(queue_name)
        try:
            queue.put({"claim": 1})
            message = queue.get(timeout=5)
            assert message.payload == {"claim": 1}
            with channel.conn_or_acquire() as client:
                assert client.hexists(channel.unacked_key, message.delivery_tag)
                message.ack()
                assert not client.hexists(channel.unacked_key, message.delivery_tag)
        finally:
            queue.queue.delete()
            queue.close()
