"""D.0 over TCP with a stand-in handler: framing, order, idle and size limits, TLS client
certificates, many connections at once, random bytes, and a graceful stop."""

from __future__ import annotations

import random
import socket
import ssl
import threading
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from adjudicator.adapters.d0_framing import Deframer
from adjudicator.adapters.ncpdp_socket import D0Server, RefusedBind, TlsFiles, listen, tls_context
from adjudicator.services.identity import Principal
from tests import d0_echo
from tests.integration.d0_socket_support import (
    PATIENCE,
    connect,
    echo_handler,
    frame,
    provider,
    read_frames,
    read_until_closed,
    serving,
)

pytestmark = pytest.mark.integration

SEED = 20261206
IDS = [f"{n:010d}" for n in range(1, 11)]


def test_several_frames_in_one_write_are_answered_in_order():
    with serving() as server, connect(server) as client:
        client.sendall(b"".join(frame(i) for i in IDS))
        answers = read_frames(client, len(IDS))
    assert [provider(a) for a in answers] == IDS
    assert d0_echo.served(answers[0])[1] == "switch:loopback 56"  # plain TCP: the loopback switch


def test_a_frame_split_across_writes_is_one_frame():
    stream = frame("1111111111") + frame("2222222222")
    with serving() as server, connect(server) as client:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for start in range(0, len(stream), 7):
            client.sendall(stream[start : start + 7])
            time.sleep(0.001)
        answers = read_frames(client, 2)
    assert [provider(a) for a in answers] == ["1111111111", "2222222222"]


def test_bytes_before_stx_are_ignored_and_frames_without_stx_are_read():
    body = d0_echo.request("3333333333")
    with serving() as server, connect(server) as client:
        client.sendall(
            b"\r\nnoise" + b"\x02" + body + b"\x03" + d0_echo.request("4444444444") + b"\x03"
        )
        answers = read_frames(client, 2)
    assert [provider(a) for a in answers] == ["3333333333", "4444444444"]
    assert d0_echo.served(answers[0])[1].endswith(f" {len(body)}")  # the noise never reached it


def test_an_unreadable_header_is_answered_with_an_empty_frame_and_the_connection_goes_on():
    with serving() as server, connect(server) as client:
        client.sendall(b"\x02short\x03" + b"\x02" + "é".encode() * 40 + b"\x03" + frame(IDS[0]))
        client.settimeout(PATIENCE)
        answers = read_frames(client, 3)
    assert answers[:2] == [b"", b""]
    assert provider(answers[2]) == IDS[0]


def test_a_connection_stays_open_between_frames():
    with serving() as server, connect(server) as client:
        for provider_id in IDS[:3]:
            client.sendall(frame(provider_id))
            assert provider(read_frames(client, 1)[0]) == provider_id
            time.sleep(0.2)


def test_an_idle_connection_is_closed():
    with serving(idle_seconds=0.5) as server, connect(server) as client:
        client.sendall(frame(IDS[0]))
        answers, closed = read_until_closed(client)
    assert closed and [provider(a) for a in answers] == [IDS[0]]


def test_a_frame_over_64_kib_closes_the_connection_and_others_go_on():
    with serving() as server:
        with connect(server) as big:
            big.sendall(b"\x02" + d0_echo.request(body="A" * (64 * 1024)))
            answers, closed = read_until_closed(big)
        assert closed and answers == []
        with connect(server) as client:  # a frame of exactly 64 KiB is answered
            client.sendall(b"\x02" + d0_echo.request(body="A" * (64 * 1024 - 56)) + b"\x03")
            assert len(read_frames(client, 1)) == 1


def test_a_slow_client_does_not_hold_up_others():
    def slow_handler(caller: Principal, body: bytes) -> bytes | None:
        if d0_echo.request("9999999999") in body:
            release.wait(PATIENCE)  # a transmission waiting on its decision
        return echo_handler(caller, body)

    release = threading.Event()
    with serving(slow_handler) as server, connect(server) as stuck, connect(server) as trickle:
        stuck.sendall(frame("9999999999"))
        trickle.sendall(b"\x02" + d0_echo.request()[:20])  # half a frame, never finished
        with connect(server) as client:
            client.sendall(frame(IDS[0]))
            assert provider(read_frames(client, 1)[0]) == IDS[0]
        release.set()
        assert provider(read_frames(stuck, 1)[0]) == "9999999999"


def test_many_connections_at_once_each_get_their_own_answers_in_order():
    def handler(caller: Principal, body: bytes) -> bytes | None:
        time.sleep(0.01)  # as if it waited on Redis
        return echo_handler(caller, body)

    results: dict[int, list[str]] = {}
    expected = {n: [f"{n:05d}{i:05d}" for i in range(5)] for n in range(64)}

    def client_session(number: int) -> None:
        ids = expected[number]
        with connect(server) as client:
            client.sendall(b"".join(frame(i) for i in ids[:2]))
            answers = read_frames(client, 2)
            for i in ids[2:]:
                client.sendall(frame(i))
                answers += read_frames(client, 1)
        results[number] = [provider(a) for a in answers]

    with serving(handler) as server:
        clients = [threading.Thread(target=client_session, args=(n,)) for n in range(64)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join(PATIENCE * 2)
        assert results == expected  # every client its own answers, in order
        deadline = time.monotonic() + PATIENCE
        while server.connections and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.connections == 0  # none left hanging


def test_past_the_connection_limit_a_new_connection_is_closed_and_the_others_go_on():
    with serving(max_connections=2) as server, connect(server) as first, connect(server) as second:
        first.sendall(frame(IDS[0]))
        second.sendall(frame(IDS[1]))
        assert provider(read_frames(first, 1)[0]) == IDS[0]  # both are being served
        assert provider(read_frames(second, 1)[0]) == IDS[1]
        with connect(server) as third:
            third.sendall(frame(IDS[2]))
            answers, closed = read_until_closed(third)
        assert closed and answers == []
        first.sendall(frame(IDS[3]))
        assert provider(read_frames(first, 1)[0]) == IDS[3]


def test_a_handler_that_fails_closes_its_connection_only():
    def handler(caller: Principal, body: bytes) -> bytes | None:
        if d0_echo.request("6666666666") in body:
            raise RuntimeError("a bug")
        return echo_handler(caller, body)

    with serving(handler) as server:
        with connect(server) as client:
            client.sendall(frame("6666666666"))
            answers, closed = read_until_closed(client)
        assert closed and answers == []
        with connect(server) as client:
            client.sendall(frame(IDS[0]))
            assert provider(read_frames(client, 1)[0]) == IDS[0]


def test_random_bytes_never_crash_the_server_nor_leave_a_connection_hanging():
    rng = random.Random(SEED)
    alphabet = b"\x02\x03\x1c\x1d\x1eAM0123456789 D" + bytes(range(256))
    with serving(idle_seconds=5) as server:
        for _ in range(40):
            stream = b"".join(
                rng.choice(
                    [
                        frame(rng.choice(IDS)),
                        bytes(rng.choice(alphabet) for _ in range(rng.randrange(1, 300))),
                    ]
                )
                for _ in range(rng.randrange(1, 12))
            )
            expected = _frames_of(stream)
            with connect(server) as client:
                for start in range(0, len(stream), 97):
                    client.sendall(stream[start : start + 97])
                client.shutdown(socket.SHUT_WR)  # done sending: the server answers, then closes
                answers, closed = read_until_closed(client)
            assert closed
            assert len(answers) == expected
        with connect(server) as client:  # still serving
            client.sendall(frame(IDS[0]))
            assert provider(read_frames(client, 1)[0]) == IDS[0]


def _frames_of(stream: bytes) -> int:
    return len(Deframer().feed(stream))


def test_a_stop_lets_the_frame_in_progress_finish_then_closes():
    started = threading.Event()

    def handler(caller: Principal, body: bytes) -> bytes | None:
        started.set()
        time.sleep(0.5)
        return echo_handler(caller, body)

    with serving(handler) as server, connect(server) as client:
        client.sendall(frame(IDS[0]))
        assert started.wait(PATIENCE)
        server.stop()
        answers, closed = read_until_closed(client)
    assert closed and [provider(a) for a in answers] == [IDS[0]]


@pytest.mark.parametrize("host", ["0.0.0.0", "", "::"])
def test_plain_tcp_refuses_to_bind_anything_but_loopback(host: str):
    with pytest.raises(RefusedBind, match="loopback"):
        listen(host, 0, loopback_only=True)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost"])
def test_plain_tcp_binds_loopback(host: str):
    listen(host, 0, loopback_only=True).close()


# --- TLS ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca: trustme.CA  # issued the server's certificate and the switches'
    stranger_ca: trustme.CA  # the server does not trust it
    files: TlsFiles


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    ca = trustme.CA()
    folder = tmp_path_factory.mktemp("pki")
    ca.issue_cert("localhost", "127.0.0.1").private_key_and_cert_chain_pem.write_to_path(
        str(folder / "server.pem")
    )
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    return Pki(
        ca, trustme.CA(), TlsFiles(folder / "server.pem", folder / "server.pem", folder / "ca.pem")
    )


def _client_context(pki: Pki, cn: str | None, issuer: str = "ca") -> ssl.SSLContext:
    context = ssl.create_default_context()
    pki.ca.configure_trust(context)
    if cn is not None:
        ca: trustme.CA = getattr(pki, issuer)
        ca.issue_cert(f"{cn.lower()}.example", common_name=cn).configure_cert(context)
    return context


def _tls_server(pki: Pki, switches: set[str]) -> AbstractContextManager[D0Server]:
    return serving(tls=tls_context(pki.files), is_switch=switches.__contains__)


def test_a_registered_switchs_certificate_is_served_as_that_switch(pki):
    with (
        _tls_server(pki, {"AcmeSwitch"}) as server,
        connect(server, _client_context(pki, "AcmeSwitch")) as client,
    ):
        client.sendall(frame(IDS[0]) + frame(IDS[1]))
        answers = read_frames(client, 2)
    assert [provider(a) for a in answers] == IDS[:2]
    assert d0_echo.served(answers[0])[1] == "switch:AcmeSwitch 56"


@pytest.mark.parametrize(
    ("cn", "issuer"),
    [("Stranger", "ca"), ("AcmeSwitch", "stranger_ca"), (None, "ca")],
    ids=["unknown CN", "another CA", "no client certificate"],
)
def test_other_clients_are_refused(pki, cn: str | None, issuer: str):
    with _tls_server(pki, {"AcmeSwitch"}) as server:
        try:
            client = connect(server, _client_context(pki, cn, issuer))
        except (OSError, ConnectionError):
            return  # refused during the handshake
        with client:
            try:
                client.sendall(frame(IDS[0]))
            except OSError:
                return
            answers, closed = read_until_closed(client)
        assert closed and answers == []


def test_a_tls_client_that_never_handshakes_does_not_hold_up_others(pki):
    with (
        _tls_server(pki, {"AcmeSwitch"}) as server,
        connect(server),  # plain TCP, silent: its handshake never starts
        connect(server, _client_context(pki, "AcmeSwitch")) as client,
    ):
        client.sendall(frame(IDS[0]))
        assert provider(read_frames(client, 1)[0]) == IDS[0]


def test_tls_may_bind_any_address(pki, tmp_path: Path):
    listener = listen("0.0.0.0", 0, loopback_only=False)
    D0Server(listener, echo_handler, tls=tls_context(pki.files), is_switch=lambda _name: True)
    listener.close()
