"""A stand-in for services/ncpdp.answer in transport tests: a D.0 response built from the
request's header alone (who asked, how long the transmission was), or None when the header
cannot be read, as the real service answers."""

from __future__ import annotations

from adjudicator.ncpdp import codec
from adjudicator.services.errors import Forbidden
from adjudicator.services.identity import Principal

HEADER = "999999D0B1IPSENCARES1011234567893     20260301SOFTWARE01"
assert len(HEADER) == codec.REQUEST_HEADER_LENGTH


def request(provider_id: str = "1234567893", body: str = "") -> bytes:
    """A transmission with this service provider id (15 wide) and anything after the header."""
    header = HEADER[:23] + provider_id.ljust(15)[:15] + HEADER[38:]
    return (header + body).encode("ascii")


def echo(caller: Principal, transmission: bytes) -> bytes | None:
    try:
        parsed = codec.parse_request(transmission.decode("latin-1"))
    except codec.UnreadableHeader:
        return None
    header = parsed.header
    if caller.role == "pharmacy" and header["provider_id"].strip() != caller.npi:
        raise Forbidden("a pharmacy bills for its own NPI only")
    message = codec.Segment(
        "20", (("FQ", f"{caller.actor} {len(transmission)}"),)
    )  # who was served, and how many bytes reached the handler
    response = codec.Transmission(
        {
            "version": "D0",
            "transaction_code": header["transaction_code"],
            "count": "1",
            "status": "A",
            "qualifier": header["qualifier"],
            "provider_id": header["provider_id"],
            "date_of_service": header["date_of_service"],
        },
        groups=(codec.Group((message,)),),
    )
    return codec.write_response(response).encode("ascii")


def served(response: bytes) -> tuple[str, str]:
    """(the provider id echoed, the FQ line: actor and length) of an echo response."""
    parsed = codec.parse_response(response.decode("ascii"))
    segment = parsed.groups[0].segment("20")
    assert segment is not None
    return parsed.header["provider_id"].strip(), segment.first("FQ") or ""
