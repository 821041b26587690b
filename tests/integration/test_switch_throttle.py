"""A switch's D.0 frames count against its rate limit, the same budget its HTTP requests
use; over it a frame waits for the window rather than being refused."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from pathlib import Path

import pytest
import redis

from adjudicator.adapters.switch_throttle import SwitchThrottle
from adjudicator.config import Rate
from adjudicator.services import identity
from adjudicator.services import ncpdp as ncpdp_service
from adjudicator.services.runtime import Runtime
from tests import d0_echo
from tests.integration.builders import web_app
from tests.integration.d0_socket_support import (
    PATIENCE,
    connect,
    frame,
    provider,
    read_frames,
    read_until_closed,
    serving,
)

pytestmark = pytest.mark.integration


def _actor() -> str:
    return f"switch:throttle-{uuid.uuid4().hex[:8]}"


def _stopping_soon(seconds: float = 0.3) -> threading.Event:
    stopping = threading.Event()
    threading.Timer(seconds, stopping.set).start()
    return stopping


def test_within_the_burst_frames_go_at_once_past_it_they_wait(runtime: Runtime):
    throttle = SwitchThrottle(runtime.redis, Rate(1, 20))  # 20 in any 20 s
    actor = _actor()

    assert all(throttle.wait_turn(actor, threading.Event()) for _ in range(20))
    assert throttle.wait_turn(actor, _stopping_soon()) is False  # still waiting when stopped
    assert throttle.wait_turn(_actor(), threading.Event())  # another switch's own budget


def test_a_waiting_frame_goes_when_the_window_moves_on(runtime: Runtime):
    throttle = SwitchThrottle(runtime.redis, Rate(2, 2))  # 2 in any second
    actor = _actor()
    assert throttle.wait_turn(actor, threading.Event())
    assert throttle.wait_turn(actor, threading.Event())

    assert throttle.wait_turn(actor, _stopping_soon(PATIENCE)) is True


def test_http_requests_and_tcp_frames_of_a_switch_share_one_budget(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(ncpdp_service, "answer", lambda _rt, who, body: d0_echo.echo(who, body))
    name = f"throttle-{uuid.uuid4().hex[:8]}"
    key = identity.add_switch(runtime.ledger, name)["api_key"]
    rate = Rate(1, 20)
    limited = dataclasses.replace(
        runtime, config=dataclasses.replace(runtime.config, rate_switch=rate)
    )
    with web_app(limited, tmp_path) as app:
        client = app.test_client()
        for _ in range(20):
            answer = client.post(
                "/ncpdp/d0", data=d0_echo.request(), headers={"Authorization": f"Bearer {key}"}
            )
            assert answer.status_code == 200

    assert (
        SwitchThrottle(runtime.redis, rate).wait_turn(f"switch:{name}", _stopping_soon()) is False
    )


def test_redis_away_lets_frames_through():
    gone = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)
    assert SwitchThrottle(gone, Rate(1, 1)).wait_turn(_actor(), threading.Event())


class _Refusing:
    """A throttle whose wait was cut short by a stop."""

    def wait_turn(self, actor: str, stopping: threading.Event) -> bool:
        return False


def test_the_server_asks_the_throttle_before_each_frame(runtime: Runtime):
    throttle = SwitchThrottle(runtime.redis, Rate(1, 20))
    actor = "switch:loopback"
    with serving(throttle=throttle) as server, connect(server) as client:
        client.sendall(frame("1111111111"))
        assert provider(read_frames(client, 1)[0]) == "1111111111"
    with serving(throttle=_Refusing()) as server, connect(server) as client:
        client.sendall(frame("1111111111"))
        answers, closed = read_until_closed(client)
    assert closed and answers == []
    for key in runtime.redis.scan_iter(f"LIMITS:LIMITER/rate/{actor}/*"):  # a shared Redis
        runtime.redis.delete(key)
