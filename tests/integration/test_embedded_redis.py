"""The embedded redis-server: Unix socket only, AOF, restarts, reuse and clean stops."""

from __future__ import annotations

import os
import signal
import stat
import time
from pathlib import Path

import pytest
import redis

from adjudicator.adapters.accumulator import Accumulator
from adjudicator.adapters.embedded_redis import (
    SUN_PATH_LIMIT,
    EmbeddedRedis,
    EmbeddedRedisError,
)

pytestmark = pytest.mark.integration


def config(client: redis.Redis, name: str) -> str:
    # redis-py 8 decodes CONFIG GET replies itself; older versions return bytes
    ((_, value),) = client.config_get(name).items()
    return value.decode() if isinstance(value, bytes) else value


def test_it_listens_on_a_private_unix_socket_in_the_data_dir(tmp_path):
    with EmbeddedRedis(tmp_path) as server, redis.Redis.from_url(server.url) as client:
        assert server.url == f"unix://{tmp_path.resolve()}/redis.sock?db=0"
        mode = server.socket_path.stat().st_mode
        assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o700
        assert client.ping()
        assert config(client, "port") == "0"
        assert config(client, "maxmemory-policy") == "noeviction"


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux /proc")
def test_it_opens_no_tcp_socket(tmp_path):
    with EmbeddedRedis(tmp_path) as server:
        inodes = {
            link.removeprefix("socket:[").rstrip("]")
            for link in (os.readlink(fd) for fd in Path(f"/proc/{server.pid}/fd").iterdir())
            if link.startswith("socket:[")
        }
        assert inodes, "the Unix socket should show up"
        for table in ("tcp", "tcp6"):
            lines = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
            assert not inodes & {line.split()[9] for line in lines}


def test_it_writes_an_append_only_file_and_survives_a_restart(tmp_path):
    with EmbeddedRedis(tmp_path) as server, redis.Redis.from_url(server.url) as client:
        Accumulator(client).reserve("p1", "2024", "c1", 12_345, 1_200_000)
    assert (tmp_path / "appendonly.aof").stat().st_size > 0
    assert not (tmp_path / "redis.sock").exists()  # a clean stop removes its socket
    with EmbeddedRedis(tmp_path) as server, redis.Redis.from_url(server.url) as client:
        assert Accumulator(client).used("p1", "2024") == 12_345


def test_the_server_stays_in_our_process_group(tmp_path):
    with EmbeddedRedis(tmp_path) as server:
        assert os.getpgid(server.pid) == os.getpgid(0)


def test_a_second_instance_reuses_a_running_server_and_leaves_it_running(tmp_path):
    with EmbeddedRedis(tmp_path) as first:
        second = EmbeddedRedis(tmp_path).start()
        assert second.reused and second.pid == first.pid
        second.stop()
        with redis.Redis.from_url(first.url) as client:
            assert client.ping()


def test_the_exit_of_a_started_or_a_reused_server_is_seen(tmp_path):
    first = EmbeddedRedis(tmp_path).start()
    second = EmbeddedRedis(tmp_path).start()  # reuses the first one's server
    assert (first.exit_code(), second.exit_code()) == (None, None)

    os.kill(first.pid, signal.SIGKILL)  # type: ignore[arg-type]  # started: pid set
    deadline = time.monotonic() + 10
    while first.exit_code() is None and time.monotonic() < deadline:
        time.sleep(0.05)

    assert first.exit_code() == -signal.SIGKILL
    assert second.exit_code() == -1
    first.stop()


def test_stale_socket_and_pidfile_from_a_dead_server_are_replaced(tmp_path):
    server = EmbeddedRedis(tmp_path).start()
    os.kill(server.pid, signal.SIGKILL)  # no clean shutdown: socket and pidfile stay
    server.stop()
    assert (tmp_path / "redis.sock").exists() and (tmp_path / "redis.pid").exists()
    with EmbeddedRedis(tmp_path) as again, redis.Redis.from_url(again.url) as client:
        assert not again.reused and client.ping()


def test_a_pidfile_naming_some_other_live_process_is_stale(tmp_path):
    (tmp_path / "redis.pid").write_text(f"{os.getpid()}\n")  # alive, but not our server
    with EmbeddedRedis(tmp_path) as server:
        assert not server.reused and server.pid != os.getpid()


def test_stop_is_idempotent(tmp_path):
    server = EmbeddedRedis(tmp_path).start()
    pid = server.pid
    server.stop()
    server.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_long_data_dir_puts_only_the_socket_under_tmp(tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    with EmbeddedRedis(deep) as server, redis.Redis.from_url(server.url) as client:
        assert client.ping()
        assert len(os.fsencode(server.socket_path)) < SUN_PATH_LIMIT
        assert server.socket_path.parent.parent == Path("/tmp")
        assert config(client, "dir") == str(deep)
    assert EmbeddedRedis(deep).socket_path == server.socket_path  # same dir, same socket
    server.socket_path.parent.rmdir()  # a clean stop left it empty


def test_a_server_that_cannot_start_raises_with_its_log(tmp_path):
    with pytest.raises(EmbeddedRedisError, match="exited with") as failure:
        EmbeddedRedis(tmp_path, extra_config=["no-such-directive yes"]).start()
    assert "no-such-directive" in str(failure.value)
