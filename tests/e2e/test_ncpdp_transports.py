"""NCPDP.md's Transports with the real service behind them: the HTTP door reads any content
type, a chunked body and STX/ETX framing; the TCP port frames as documented (bytes before
an STX dropped, a frame without STX, several frames in one write or one frame over many),
and a frame over 64 KiB closes only its own connection."""

from __future__ import annotations

import random

import pytest

from tests.e2e.conftest import Server
from tests.e2e.d0_helpers import (
    ETX,
    PATIENCE,
    SERVED,
    STX,
    D0Connection,
    d0_connection,
    lines,
    outcome,
    post_d0,
)
from tests.e2e.helpers import DEMO_PHARMACY_NPI, enroll
from tests.ncpdp_builders import billing, eligibility

pytestmark = pytest.mark.e2e


def member(server: Server) -> str:
    return str(enroll(server, state="NY")["cardholder_id"])


def b1(cardholder: str) -> bytes:
    return billing(cardholder, DEMO_PHARMACY_NPI, served=SERVED, rx=str(random.randint(1, 10**11)))


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "application/octet-stream",
        "text/plain",
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ],
)
def test_the_http_door_reads_the_body_whatever_its_content_type(
    server: Server, switch_key: str, content_type: str | None
) -> None:
    headers = {"Authorization": f"Bearer {switch_key}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    body = b1(member(server))
    response = server.session.post(
        server.base_url + "/ncpdp/d0", data=body, headers=headers, timeout=PATIENCE
    )
    assert response.status_code == 200, response.text
    assert outcome(response.content) == ("P", [])


def test_the_http_door_reads_a_chunked_body_and_strips_stx_and_etx(
    server: Server, switch_key: str
) -> None:
    body = STX + b1(member(server)) + ETX

    def chunks():  # type: ignore[no-untyped-def]  # a generator: requests sends it chunked
        for at in range(0, len(body), 7):
            yield body[at : at + 7]

    response = server.session.post(
        server.base_url + "/ncpdp/d0",
        data=chunks(),
        headers={"Authorization": f"Bearer {switch_key}"},
        timeout=PATIENCE,
    )
    assert response.status_code == 200, response.text
    assert outcome(response.content) == ("P", [])
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_tcp_frames_as_documented_with_the_real_service(server: Server) -> None:
    cardholder = member(server)
    first, second, third = b1(cardholder), b1(cardholder), b1(cardholder)
    check = eligibility(cardholder, DEMO_PHARMACY_NPI, served=SERVED)
    stream = (
        b"noise before the STX"
        + STX
        + first
        + ETX
        + second  # no STX: everything since the previous ETX
        + ETX
        + b"dropped"
        + STX
        + third
        + ETX
        + STX
        + check
        + ETX
    )
    with d0_connection(server) as connection:
        for at in range(0, len(stream), 13):  # one write cut into many
            connection.sock.sendall(stream[at : at + 13])
        answers = [connection.receive() for _ in range(4)]
    assert [outcome(a)[0] for a in answers] == ["P", "P", "P", "A"]
    assert lines(answers[3])[-1] == "BENEFIT REMAINING 7500.00"


def test_a_frame_over_64_kib_closes_its_connection_and_no_other(server: Server) -> None:
    assert server.d0_port is not None
    cardholder = member(server)
    bystander = D0Connection(server.d0_port)
    try:
        with d0_connection(server) as flooding:
            flooding.sock.sendall(STX + b"X" * (64 * 1024 + 1))
            try:  # closed without an answer (a time-out here fails the test)
                data = flooding.sock.recv(4096)
            except ConnectionResetError:
                data = b""
            assert data == b"", f"an answer to an oversized frame: {data!r}"
        assert outcome(bystander.exchange(b1(cardholder))) == ("P", [])
    finally:
        bystander.close()


def test_a_frame_of_exactly_64_kib_is_answered(server: Server, switch_key: str) -> None:
    cardholder = member(server)
    body = b1(cardholder)
    padded = body + b"\x1e\x1cAM20" + b"\x1cF4" + b"x" * (64 * 1024 - len(body) - 9)
    assert len(padded) == 64 * 1024
    with d0_connection(server) as connection:
        answer = connection.exchange(padded)
    assert outcome(answer) == ("P", [])  # a segment the B1 does not read is let be
    again = post_d0(server, padded, switch_key)  # 64 KiB is within the HTTP limit too
    assert again.status_code == 200
    assert outcome(again.content) == ("D", [])
