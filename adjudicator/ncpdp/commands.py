"""`adjudicator ncpdp encode` and `adjudicator ncpdp decode`: D.0 for a newcomer's eyes."""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any, BinaryIO

from adjudicator.ncpdp.codec import (
    ETX,
    FS,
    GS,
    RS,
    STX,
    Group,
    Transmission,
    UnreadableHeader,
    is_request,
    parse_request,
    parse_response,
)
from adjudicator.ncpdp.encode import encode_claim
from adjudicator.ncpdp.fields import FIELD_NAMES, HEADER_NAMES, SEGMENT_NAMES

_STRING = r'"(?:[^"\\]|\\.)*"'
_PAIR = re.compile(rf"\[\s+({_STRING}),\s+({_STRING})\s+\]")

# How --readable shows the separators, and how decode reads them back.
TOKENS = {FS: "<FS>", GS: "<GS>", RS: "<RS>"}


def add_commands(commands: Any) -> Any:
    """The `ncpdp` group with encode and decode; returns the group's subparsers, which
    other `ncpdp` commands (serve) join with `.add_parser`."""
    ncpdp = commands.add_parser("ncpdp", help="NCPDP D.0 transmissions")
    sub = ncpdp.add_subparsers(required=True, metavar="COMMAND")
    encode = sub.add_parser("encode", help="a JSON claim request as a D.0 B1 transmission")
    encode.add_argument("file", metavar="FILE", help="the JSON claim request (- for stdin)")
    encode.add_argument("--bin", default="999999")
    encode.add_argument("--pcn", default="IPSENCARES")
    encode.add_argument("--transaction-code", default="B1", choices=["B1", "B2", "B3"])
    encode.add_argument(
        "--readable",
        action="store_true",
        help="show the separators as <FS> <GS> <RS>, one segment a line (decode reads it too)",
    )
    encode.set_defaults(handler=encode_command)
    decode = sub.add_parser("decode", help="any D.0 transmission (request or response) as JSON")
    decode.add_argument("file", metavar="FILE", nargs="?", default="-", help="default: stdin")
    decode.set_defaults(handler=decode_command)
    return sub


def encode_command(args: argparse.Namespace) -> int:
    try:
        request = json.loads(_read(args.file))
        if not isinstance(request, dict):
            raise ValueError("the file holds JSON, but not an object")
        transmission = encode_claim(
            request, bin=args.bin, pcn=args.pcn, transaction_code=args.transaction_code
        )
    except (OSError, ValueError) as error:  # json.JSONDecodeError is a ValueError
        print(f"adjudicator ncpdp encode: {error}", file=sys.stderr)
        return 2
    if args.readable:
        print(readable(transmission))
    else:
        # No newline: it would become part of the last field's value.
        sys.stdout.write(transmission)
        sys.stdout.flush()
    return 0


def decode_command(args: argparse.Namespace) -> int:
    try:
        text = from_readable(_read(args.file).decode("latin-1"))
        print(pretty_json(decode(text)))
    except (OSError, UnreadableHeader) as error:
        print(f"adjudicator ncpdp decode: {error}", file=sys.stderr)
        return 2
    return 0


def decode(text: str) -> dict[str, Any]:
    """Header fields as sent, then each group's segments with their fields in order."""
    text = text.removeprefix(STX).removesuffix("\n").removesuffix("\r").removesuffix(ETX)
    # By where the version is; a short request still goes to parse_request, which says so.
    request = is_request(text) or text[6:8] == "D0"
    if not request and text[:2] != "D0":
        raise UnreadableHeader(
            "neither a request (version D0 at offset 6) nor a response (D0 at offset 0)"
        )
    transmission: Transmission = (parse_request if request else parse_response)(text)
    return {
        "type": "request" if request else "response",
        "header": dict(transmission.header),
        "header_names": {name: HEADER_NAMES[name] for name in transmission.header},
        "transmission": _group(transmission.transmission),
        "groups": [_group(group) for group in transmission.groups],
    }


def pretty_json(decoded: dict[str, Any]) -> str:
    """Indented JSON with each [id, value] pair kept on one line."""
    return _PAIR.sub(r"[\1, \2]", json.dumps(decoded, indent=2))


def readable(transmission: str) -> str:
    """Separators as visible tokens, each segment on a line of its own."""
    shown = transmission
    for separator, token in TOKENS.items():
        shown = shown.replace(separator, token)
    return shown.replace(TOKENS[RS], "\n" + TOKENS[RS]).replace(TOKENS[GS], "\n" + TOKENS[GS])


def from_readable(text: str) -> str:
    """The raw transmission back from `readable`'s text (raw text passes unchanged)."""
    if not any(token in text for token in TOKENS.values()):
        return text
    text = text.replace("\r\n", "\n").replace("\n<", "<")
    for separator, token in TOKENS.items():
        text = text.replace(token, separator)
    return text


def _group(group: Group) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "segments": [
            {
                "segment": f"AM{segment.id}",
                "name": SEGMENT_NAMES.get(segment.id, "unknown"),
                "fields": [[name, value] for name, value in segment.fields],
                "names": {
                    name: FIELD_NAMES[name] for name, _ in segment.fields if name in FIELD_NAMES
                },
            }
            for segment in group.segments
        ]
    }
    if group.malformed:
        shown["malformed"] = list(group.malformed)
    return shown


def _read(path: str) -> bytes:
    if path == "-":
        stream: BinaryIO = sys.stdin.buffer
        return stream.read()
    with open(path, "rb") as file:
        return file.read()
