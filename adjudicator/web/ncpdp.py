"""NCPDP D.0 over HTTP: `POST /ncpdp/d0`, one transmission in, its response out.

The caller is authenticated, and counted against its rate limit, before the body is read
(web/auth.py, web/limits.py); the body is capped at 64 KiB like every body (web/body.py).
The D.0 itself is the service's (services/ncpdp.py): this edge only strips the framing
bytes and maps "no readable header" to 400 and Forbidden to 403."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_smorest import Blueprint

from adjudicator.ncpdp.codec import ETX, STX
from adjudicator.web.auth import principal, require
from adjudicator.web.body import raw_body
from adjudicator.web.docs import BEARER
from adjudicator.web.problems import PROBLEM_TYPE, ProblemAbort, problem
from adjudicator.web.runtime import runtime
from schemas.problems import ProblemSchema

blp = Blueprint("ncpdp", __name__, description="NCPDP Telecommunication D.0 (switches, pharmacies)")

D0_MEDIA_TYPE = "application/octet-stream"
UNREADABLE_HEADER = (
    "The 56 characters of the D.0 request header could not be read: the transmission is "
    "shorter, or holds a byte that is not ASCII."
)
_BINARY = {"type": "string", "format": "binary"}
_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "description": "One D.0 transmission, optionally framed by STX (0x02) and ETX (0x03); "
    "any content type is read as these bytes. At most 64 KiB.",
    "content": {D0_MEDIA_TYPE: {"schema": _BINARY}},
}
_PROBLEMS = {
    400: "The request header could not be read (fewer than 56 characters, or not ASCII)",
    401: "No or unknown credentials",
    403: "Not a switch or a pharmacy, or a pharmacy billing for another NPI",
    413: "The body is over 64 KiB",
    429: "Over the credential's rate limit",
}


def _strip_framing(body: bytes) -> bytes:
    """Without a leading STX and a trailing ETX, when sent (either may come alone)."""
    if body.startswith(STX.encode()):
        body = body[1:]
    if body.endswith(ETX.encode()):
        body = body[:-1]
    return body


def _documented(view: Any) -> Any:
    for status, description in _PROBLEMS.items():
        view = blp.alt_response(
            status, schema=ProblemSchema, content_type=PROBLEM_TYPE, description=description
        )(view)
    return view


@blp.route("/ncpdp/d0", methods=["POST"])
@require("pharmacy", "switch")
@blp.doc(security=BEARER, requestBody=_REQUEST_BODY)
@blp.alt_response(
    200, schema=_BINARY, content_type=D0_MEDIA_TYPE, description="The D.0 response", success=True
)
@_documented
def transmit():  # type: ignore[no-untyped-def]  # view: dict, tuple or Response
    """Bill, reverse, rebill or check eligibility in D.0; answers the D.0 response."""
    from adjudicator.services import ncpdp  # the service is the lead's: imported when used

    answered = ncpdp.answer(runtime(), principal(), _strip_framing(raw_body()))
    if answered is None:
        raise ProblemAbort(problem(400, "Bad Request", UNREADABLE_HEADER))
    return Response(answered, status=200, mimetype=D0_MEDIA_TYPE)
