"""D.0 against the real server: the two transports (`POST /ncpdp/d0` and the TCP port of
`adjudicator run --ncpdp-port`), transmissions built by the outside client dzero-python,
and readers of the answers. Not a conftest: import it.

dzero-python keeps only the last copy of a repeated field (docs/decisions.md #97): it
builds and reads what has no repeat that matters; our codec (tests/ncpdp_builders.py)
writes and reads the rest.
"""

from __future__ import annotations

import copy
import random
import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import redis
import requests
from dzero_python import Request, Response
from dzero_python import segments as dz

from adjudicator.adapters.accumulator import accumulator_key
from adjudicator.adapters.d0_framing import Deframer
from adjudicator.ncpdp import codec
from adjudicator.ncpdp.amounts import read_amount, write_amount
from tests.e2e.conftest import Server
from tests.e2e.helpers import REVIEWER_TOKEN, claims_of
from tests.examples import CLAIM

NDC = "15054104005"
SERVED = "20260301"  # CCYYMMDD: inside the e2e enrollments' 2026 year, not in the future
STX, ETX = b"\x02", b"\x03"
PATIENCE = 30.0  # seconds any one answer may take before a test fails


# --- transmissions written by dzero-python -----------------------------------------------


def dz_header(code: str, npi: str, served: str = SERVED, **overrides: str) -> dict[str, str]:
    header = {
        "bin_number": "999999",
        "version": "D0",
        "transaction_code": code,
        "processor_control_number": "IPSENCARES",
        "transaction_count": "1",
        "service_provider_id_qualifier": "01",
        "service_provider_id": npi,
        "date_of_service": served,
        "software": "",
    }
    header.update(overrides)
    return header


def dz_billing(
    cardholder: str,
    npi: str,
    *,
    rx: str,
    fill: int = 0,
    owed: int = 150_000,
    code: str = "B1",
    served: str = SERVED,
    coverage: str | None = "8",
    payer_bin: str = "003858",
    birth: str | None = "20150402",
) -> bytes:
    """A B1 (or B3) of one INCRELEX fill written by dzero-python: `owed` cents the patient
    owes (the primary's 352-NQ with other coverage code 8, else 430-DU)."""
    segments: list[Any] = [dz.Insurance({"cardholder_id": cardholder, "group_id": "IPSENCARES"})]
    if birth is not None:
        segments.append(dz.Patient({"date_of_birth": birth}))
    claim = {
        "prescription_reference_number_qualifier": "1",
        "prescription_reference_number": rx,
        "fill_number": str(fill),
        "product_service_id_qualifier": "03",
        "product_service_id": NDC,
        "quantity_dispensed": "0000008000",
        "days_supply": "30",
    }
    if coverage is not None:
        claim["other_coverage_code"] = coverage
    segments.append(dz.Claim(claim))
    segments.append(dz.Prescriber({"prescriber_id_qualifier": "01", "prescriber_id": "1245319599"}))
    if coverage == "8":
        segments.append(
            dz.CoordOfBenefits(
                {
                    "coordination_of_benefits_other_payments_count": "1",
                    "other_payer_coverage_type": "01",
                    "other_payer_id_qualifier": "03",
                    "other_payer_id": payer_bin,
                    "other_payer_patient_responsibility_amount_count": "1",
                    "other_payer_patient_responsibility_amount_qualifier": "06",
                    "other_payer_patient_responsibility_amount": write_amount(owed),
                }
            )
        )
    segments.append(dz.Pricing({"gross_amount_due": write_amount(owed)}))
    request = Request(header=dz_header(code, npi, served), segments=segments)
    return str(request.to_s()).encode("ascii")


def dz_reversal(npi: str, *, rx: str, fill: int = 0, served: str = SERVED) -> bytes:
    claim = dz.Claim(
        {
            "prescription_reference_number_qualifier": "1",
            "prescription_reference_number": rx,
            "fill_number": str(fill),
        }
    )
    return str(Request(header=dz_header("B2", npi, served), segments=[claim]).to_s()).encode()


def dz_eligibility(cardholder: str, npi: str, *, served: str = SERVED) -> bytes:
    """An E1: AM04 and AM01 at the transmission level and one empty transaction group (D.0:
    the count is the number of GS; dzero-python writes no group without a segment in it)."""
    request = Request(
        header=dz_header("E1", npi, served),
        segments=[dz.Insurance({"cardholder_id": cardholder}), dz.Patient({"date_of_birth": ""})],
    )
    request.transmission_group.segments.pop()  # only the insurance segment
    return str(request.to_s()).encode("ascii") + codec.GS.encode("ascii")


def together(*bodies: bytes) -> bytes:
    """One transmission holding the transaction groups of `bodies` (same header, same
    transmission-level segments: the first's), its count set to match."""
    parsed = [codec.parse_request(body.decode("ascii")) for body in bodies]
    first = parsed[0]
    header = {**first.header, "count": str(len(parsed))}
    groups = tuple(group for one in parsed for group in one.groups)
    return codec.write_request(codec.Transmission(header, first.transmission, groups)).encode()


def d0_claim(cardholder: str, **changes: Any) -> dict[str, Any]:
    """API.md's example claim as D.0 can carry it, for this member; `changes` replace
    top-level keys, `drug=` the drug line's patient responsibility, `cob=None` drops it."""
    payload = copy.deepcopy(CLAIM)
    payload["cardholder_id"] = cardholder
    payload["rx_number"] = str(random.randint(10**8, 10**11))
    payload["lines"] = payload["lines"][:1]  # the drug line: D.0 claims have no service line
    del payload["diagnosis_code"]
    del payload["cob"]["other_payer_pcn"]
    drug = changes.pop("drug", None)
    if drug is not None:
        payload["lines"][0]["patient_responsibility"] = drug
    ndc = changes.pop("ndc", None)
    if ndc is not None:
        payload["lines"][0]["code"] = ndc
    for key, value in changes.items():
        if value is None:
            payload.pop(key, None)
        else:
            payload[key] = value
    return payload


# --- reading answers ----------------------------------------------------------------------


def dz_parse(answer: bytes) -> Any:
    """The answer as dzero-python reads it (a `Response`)."""
    return Response.parse(answer.decode("ascii"))


def dz_status(response: Any, group: int = 0) -> Any:
    """AM21 of a transaction group, as dzero-python parsed it."""
    return _dz_segment(response, group, "21")


def dz_pricing(response: Any, group: int = 0) -> dict[str, int]:
    """AM23 of a transaction group in cents, each amount read by our `read_amount`."""
    found = _dz_segment(response, group, "23")
    return {name: read_amount(value) for name, value in found.hash.items() if name != "AM"}


def has_segment(response: Any, segment_id: str, group: int = 0) -> bool:
    segments = response.transaction_groups[group].segments
    return any(s.hash.get("AM") == segment_id for s in segments)


def _dz_segment(response: Any, group: int, segment_id: str) -> Any:
    for segment in response.transaction_groups[group].segments:
        if segment.hash.get("AM") == segment_id:
            return segment
    raise AssertionError(f"no AM{segment_id} in group {group}: {response.to_json()}")


def ours(answer: bytes) -> codec.Transmission:
    """The answer as our codec reads it (repeats kept: every FB, every FQ)."""
    return codec.parse_response(answer.decode("ascii"))


def status_of(answer: bytes, group: int = 0) -> codec.Segment:
    found = ours(answer).groups[group].segment("21")
    assert found is not None, answer
    return found


def outcome(answer: bytes, group: int = 0) -> tuple[str | None, list[str]]:
    """(112-AN, the 511-FB codes in order) of a transaction group."""
    found = status_of(answer, group)
    return found.first("AN"), found.every("FB")


def lines(answer: bytes, group: int = 0) -> list[str]:
    """The 526-FQ message lines of a transaction group, in order."""
    return status_of(answer, group).every("FQ")


def pricing_of(answer: bytes, group: int = 0) -> dict[str, int] | None:
    """AM23 in cents by field id; None when the group has none."""
    found = ours(answer).groups[group].segment("23")
    if found is None:
        return None
    return {name: read_amount(value) for name, value in found.fields}


def cents(money: str) -> int:
    whole, _, fraction = money.partition(".")
    return int(whole) * 100 + int(fraction.ljust(2, "0"))


# --- the two transports -------------------------------------------------------------------


def post_d0(server: Server, body: bytes, token: str) -> requests.Response:
    return server.call(  # type: ignore[no-any-return]  # requests' Response
        "POST",
        "/ncpdp/d0",
        token,
        data=body,
        headers={"Content-Type": "application/octet-stream"},
        timeout=PATIENCE,
    )


def over_http(server: Server, body: bytes, token: str) -> bytes:
    """The D.0 answer of `POST /ncpdp/d0` (fails unless 200 octet-stream)."""
    response = post_d0(server, body, token)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/octet-stream"
    return bytes(response.content)


class D0Connection:
    """A persistent connection to the server's D.0 TCP port (acts as the switch `loopback`)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=PATIENCE)
        self.deframer = Deframer(10**9)
        self.pending: list[bytes] = []

    def send(self, transmission: bytes) -> None:
        self.sock.sendall(STX + transmission + ETX)

    def receive(self) -> bytes:
        """The next answer, without STX/ETX; fails on EOF or PATIENCE of silence."""
        while not self.pending:
            data = self.sock.recv(65536)
            assert data, "the server closed the connection instead of answering"
            self.pending.extend(self.deframer.feed(data))
        return self.pending.pop(0)

    def exchange(self, transmission: bytes) -> bytes:
        self.send(transmission)
        return self.receive()

    def close(self) -> None:
        self.sock.close()


@contextmanager
def d0_connection(server: Server) -> Iterator[D0Connection]:
    assert server.d0_port is not None, "the server was started without --ncpdp-port"
    connection = D0Connection(server.d0_port)
    try:
        yield connection
    finally:
        connection.close()


def over_tcp(server: Server, body: bytes) -> bytes:
    """One frame on a fresh connection; its answer (without STX/ETX)."""
    with d0_connection(server) as connection:
        return connection.exchange(body)


# --- what the JSON side shows ----------------------------------------------------------


def claim_with_authorization(server: Server, cardholder: str, authorization: str) -> dict[str, Any]:
    """GET /v1/claims/{id} (as the reviewer) of the member's claim with this authorization."""
    found = [c for c in claims_of(server, cardholder) if c["authorization_number"] == authorization]
    assert len(found) == 1, (authorization, claims_of(server, cardholder))
    return claim(server, found[0]["claim_id"])


def claim(server: Server, claim_id: str) -> dict[str, Any]:
    response = server.call("GET", f"/v1/claims/{claim_id}", REVIEWER_TOKEN)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]  # JSON is Any


def accumulator(server: Server, cardholder: str) -> dict[bytes, bytes]:
    """The member's Redis accumulator hash, as it is."""
    client = redis.Redis.from_url(server.env["REDIS_URL"])
    try:
        return dict(client.hgetall(accumulator_key(cardholder)))  # type: ignore[arg-type]  # sync client
    finally:
        client.close()


def ledger_state(server: Server, cardholders: Iterable[str]) -> Any:
    """What a rejected transmission must leave as it was: each member's claims as the JSON
    listing shows them, and their Redis accumulators."""
    return [(claims_of(server, c), accumulator(server, c)) for c in cardholders]


def wait_for(check: Any, what: str, within: float = PATIENCE) -> Any:
    """Poll `check()` until it returns something truthy; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"not within {within}s: {what}"
        time.sleep(0.1)


# --- changing one field of a transmission written by our codec ---------------------------

_TRANSMISSION_LEVEL = ("04", "01")


def altered(body: bytes, segment_id: str, field_id: str, value: str | None) -> bytes:
    """`body` with the first `field_id` of AM`segment_id` set to `value` (None: removed);
    added at the segment's end when absent, and the segment added when the group lacks it."""
    sent = codec.parse_request(body.decode("ascii"))
    level = segment_id in _TRANSMISSION_LEVEL
    transmission = _altered(sent.transmission, segment_id, field_id, value) if level else None
    groups = [g if level else _altered(g, segment_id, field_id, value) for g in sent.groups]
    changed = codec.Transmission(sent.header, transmission or sent.transmission, tuple(groups))
    return codec.write_request(changed).encode("ascii")


def _altered(group: codec.Group, segment_id: str, field_id: str, value: str | None) -> codec.Group:
    segments = list(group.segments)
    at = next((i for i, s in enumerate(segments) if s.id == segment_id), None)
    if at is None:
        segments.append(codec.Segment(segment_id))
        at = len(segments) - 1
    fields = list(segments[at].fields)
    where = next((i for i, (name, _) in enumerate(fields) if name == field_id), None)
    if where is None and value is not None:
        fields.append((field_id, value))
    elif where is not None and value is None:
        del fields[where]
    elif where is not None and value is not None:
        fields[where] = (field_id, value)
    segments[at] = codec.Segment(segment_id, tuple(fields))
    return codec.Group(tuple(segments), group.malformed)
