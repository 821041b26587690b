"""A seeded stream of broken D.0 transmissions against the real service (NCPDP.md, Time and
failure: "never a 5xx"): mutations of valid B1, B2, B3 and E1 transmissions, random headers
and random bytes. Over HTTP every one is answered 200 with a D.0 response or 400 (413 for
nothing here: they are small); over TCP every frame is answered, in order, with a D.0
response or an empty frame, and nothing hangs. Afterwards a valid B1 is still paid and the
accumulators agree with the ledger."""

from __future__ import annotations

import json
import random

import pytest

from adjudicator.ncpdp import codec
from tests.e2e.conftest import Server
from tests.e2e.d0_helpers import SERVED, d0_connection, outcome, over_http, post_d0
from tests.e2e.helpers import DEMO_PHARMACY_NPI, cli_status, enroll
from tests.ncpdp_builders import billing, eligibility, reversal

pytestmark = pytest.mark.e2e

SEED = 20261206
HTTP_TRANSMISSIONS = 240
TCP_CONNECTIONS = 4
TCP_FRAMES_EACH = 40
SEPARATORS = b"\x1c\x1d\x1e"
PRINTABLE = bytes(range(0x20, 0x7F))


def seeds(cardholder: str) -> list[bytes]:
    """Valid transmissions of every kind, for this member at the demo pharmacy."""
    rx = "4242"
    return [
        billing(cardholder, DEMO_PHARMACY_NPI, served=SERVED, rx=rx),
        billing(cardholder, DEMO_PHARMACY_NPI, served=SERVED, rx="4243", coverage="1"),
        billing(cardholder, DEMO_PHARMACY_NPI, served=SERVED, rx=rx, code="B3", owed=90_000),
        billing(cardholder, DEMO_PHARMACY_NPI, served=SERVED, rx="4244", birth="20150402"),
        reversal(DEMO_PHARMACY_NPI, served=SERVED, rx=rx),
        eligibility(cardholder, DEMO_PHARMACY_NPI, served=SERVED),
    ]


def mutate(rng: random.Random, body: bytes) -> bytes:
    """One to three random mutations of `body`."""
    data = bytearray(body)
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(10)
        at = rng.randrange(len(data) + 1)
        if kind == 0 and data:  # a byte flipped to anything (non-ASCII included)
            data[min(at, len(data) - 1)] = rng.randrange(256)
        elif kind == 1 and data:  # a byte flipped to a printable character
            data[min(at, len(data) - 1)] = rng.choice(PRINTABLE)
        elif kind == 2:  # a separator inserted
            data[at:at] = bytes([rng.choice(SEPARATORS)])
        elif kind == 3:  # a separator deleted
            where = [i for i, b in enumerate(data) if b in SEPARATORS]
            if where:
                del data[rng.choice(where)]
        elif kind == 4:  # truncated
            del data[at:]
        elif kind == 5:  # a random header
            data[:56] = bytes(rng.choice(PRINTABLE) for _ in range(rng.choice((56, 56, 40, 60))))
        elif kind == 6:  # a field's value cut short
            fields = [i for i, b in enumerate(data) if b == 0x1C]
            if fields:
                start = rng.choice(fields) + 3
                end = data.find(b"\x1c", start)
                del data[start : end if end > 0 else len(data)]
        elif kind == 7:  # a segment repeated
            segments = bytes(data).split(b"\x1e")
            if len(segments) > 1:
                pick = rng.randrange(1, len(segments))
                segments.insert(pick, segments[pick])
                data = bytearray(b"\x1e".join(segments))
        elif kind == 8:  # the transaction count changed
            if len(data) > 20:
                data[20] = rng.choice(b"0123456789X ")
        else:  # random bytes in the middle
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 12)))
    return bytes(data)


def stream(rng: random.Random, cardholder: str, count: int) -> list[bytes]:
    valid = seeds(cardholder)
    out = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.05:
            out.append(bytes(rng.randrange(256) for _ in range(rng.randint(0, 120))))
        elif roll < 0.1:
            out.append(bytes(rng.choice(PRINTABLE) for _ in range(rng.randint(50, 200))))
        else:
            out.append(mutate(rng, rng.choice(valid)))
    return out


def assert_a_d0_response_to(request: bytes, answer: bytes) -> None:
    """A readable D.0 response echoing the request's transaction code and provider."""
    parsed = codec.parse_response(answer.decode("ascii"))
    assert parsed.header["version"] == "D0"
    assert parsed.header["status"] in ("A", "R")
    sent = request.decode("ascii")
    assert parsed.header["transaction_code"] == sent[8:10]
    assert parsed.header["provider_id"] == sent[23:38]
    assert parsed.header["date_of_service"] == sent[38:46]
    assert parsed.groups and all(group.segment("21") for group in parsed.groups)


@pytest.fixture(scope="module")
def fuzz_member(server: Server) -> str:
    return str(enroll(server, state="NY")["cardholder_id"])


def test_random_transmissions_over_http_are_answered_200_or_400_never_5xx(
    server: Server, switch_key: str, fuzz_member: str
) -> None:
    rng = random.Random(SEED)
    seen: dict[int, int] = {}
    for number, body in enumerate(stream(rng, fuzz_member, HTTP_TRANSMISSIONS)):
        response = post_d0(server, body, switch_key)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        where = f"seed {SEED}, transmission {number}: {body!r}"
        assert response.status_code in (200, 400, 413), f"{response.status_code} for {where}"
        if response.status_code == 200:
            assert response.headers["Content-Type"] == "application/octet-stream", where
            stripped = body[1:] if body.startswith(b"\x02") else body
            stripped = stripped[:-1] if stripped.endswith(b"\x03") else stripped
            assert_a_d0_response_to(stripped, response.content)
        else:
            assert response.headers["Content-Type"] == "application/problem+json", where
    assert seen.get(200, 0) > HTTP_TRANSMISSIONS // 2, seen  # the stream reached the service
    assert seen.get(400, 0) > 0, seen


def test_random_frames_over_tcp_are_each_answered_in_order_without_a_hang(
    server: Server, fuzz_member: str
) -> None:
    rng = random.Random(SEED + 1)
    for connection_number in range(TCP_CONNECTIONS):
        # STX and ETX would cut a body into other frames: they are framing, not content.
        bodies = [
            body.replace(b"\x02", b"?").replace(b"\x03", b"?")
            for body in stream(rng, fuzz_member, TCP_FRAMES_EACH)
        ]
        with d0_connection(server) as connection:
            for body in bodies:
                connection.send(body)
            for number, body in enumerate(bodies):
                answer = connection.receive()  # fails on a close or PATIENCE of silence
                where = f"seed {SEED + 1}, connection {connection_number}, frame {number}"
                readable = len(body) >= 56 and body.isascii()
                if readable:
                    assert answer, f"{where}: an empty frame for a readable header {body!r}"
                    assert_a_d0_response_to(body, answer)
                else:
                    assert answer == b"", f"{where}: {answer!r} for {body!r}"


def test_after_the_fuzz_a_valid_b1_is_paid_and_the_accumulators_agree(
    server: Server, switch_key: str
) -> None:
    cardholder = str(enroll(server, state="NY")["cardholder_id"])
    body = billing(cardholder, DEMO_PHARMACY_NPI, served=SERVED, rx=str(random.randint(1, 10**9)))
    assert outcome(over_http(server, body, switch_key)) == ("P", [])
    code, out = cli_status(server, "accumulators", "check")
    assert code == 0, out
    assert json.loads(out)["mismatches"] == []
