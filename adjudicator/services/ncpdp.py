"""Placeholder for the D.0 service (the lead engineer's branch replaces this file)."""

from __future__ import annotations

from adjudicator.ncpdp import codec
from adjudicator.services.identity import Principal
from adjudicator.services.runtime import Runtime


def answer(rt: Runtime, caller: Principal, transmission: bytes) -> bytes | None:
    """The D.0 response to one transmission (STX/ETX already stripped); None when its header cannot be read (HTTP 400, TCP: an empty frame STX ETX). Raises services.errors.Forbidden when a pharmacy key bills for another NPI than its own."""  # noqa: E501  # the seam's docstring, verbatim
    try:
        codec.parse_request(transmission.decode("latin-1"))
    except codec.UnreadableHeader:
        return None
    raise NotImplementedError("the D.0 service is the lead engineer's branch")
