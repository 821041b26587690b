"""Parse and write D.0 transmissions, keeping every repeat of a field in order.

Ours, not dzero-python's: that one keeps only the last copy of a repeated field
(docs/decisions.md). Pure: text in, structures out, and back."""

from __future__ import annotations

from dataclasses import dataclass, field

FS = "\x1c"  # field separator
GS = "\x1d"  # transaction group separator
RS = "\x1e"  # segment separator
STX = "\x02"
ETX = "\x03"

# (name, width) of the fixed-width headers, in order.
REQUEST_HEADER = (
    ("bin", 6),  # 101-A1
    ("version", 2),  # 102-A2
    ("transaction_code", 2),  # 103-A3
    ("pcn", 10),  # 104-A4
    ("count", 1),  # 109-A9
    ("qualifier", 2),  # 202-B2
    ("provider_id", 15),  # 201-B1
    ("date_of_service", 8),  # 401-D1
    ("software", 10),  # 110-AK
)
RESPONSE_HEADER = (
    ("version", 2),
    ("transaction_code", 2),
    ("count", 1),
    ("status", 1),  # 501-F1
    ("qualifier", 2),
    ("provider_id", 15),
    ("date_of_service", 8),
)
REQUEST_HEADER_LENGTH = sum(width for _, width in REQUEST_HEADER)  # 56
RESPONSE_HEADER_LENGTH = sum(width for _, width in RESPONSE_HEADER)  # 31


class UnreadableHeader(ValueError):
    """Too short, or not ASCII: no D.0 answer can be addressed (HTTP 400, empty frame)."""


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment: its id (`04` for AM04) and its fields in order, repeats kept."""

    id: str
    fields: tuple[tuple[str, str], ...] = ()

    def first(self, field_id: str) -> str | None:
        for name, value in self.fields:
            if name == field_id:
                return value
        return None

    def every(self, field_id: str) -> list[str]:
        return [value for name, value in self.fields if name == field_id]


@dataclass(frozen=True, slots=True)
class Group:
    """Segments of the transmission level or of one transaction group."""

    segments: tuple[Segment, ...] = ()
    # Parts that are not segments or fields: (field id or "", message); the mapping
    # answers a transaction group holding any with a reject, never a crash.
    malformed: tuple[str, ...] = ()

    def segment(self, segment_id: str) -> Segment | None:
        for segment in self.segments:
            if segment.id == segment_id:
                return segment
        return None


@dataclass(frozen=True, slots=True)
class Transmission:
    """A request or a response: its header fields as sent (padding kept), the
    transmission-level segments, and the transaction groups (one per GS, empty ones too)."""

    header: dict[str, str]
    transmission: Group = field(default_factory=Group)
    groups: tuple[Group, ...] = ()


def parse_request(text: str) -> Transmission:
    return _parse(text, REQUEST_HEADER, REQUEST_HEADER_LENGTH)


def parse_response(text: str) -> Transmission:
    return _parse(text, RESPONSE_HEADER, RESPONSE_HEADER_LENGTH)


def write_request(transmission: Transmission) -> str:
    return _write(transmission, REQUEST_HEADER)


def write_response(transmission: Transmission) -> str:
    return _write(transmission, RESPONSE_HEADER)


def _parse(text: str, layout: tuple[tuple[str, int], ...], length: int) -> Transmission:
    if len(text) < length:
        raise UnreadableHeader(f"the header needs {length} characters, {len(text)} were sent")
    if not text.isascii():
        raise UnreadableHeader("a transmission is ASCII")
    header, at = {}, 0
    for name, width in layout:
        header[name] = text[at : at + width]
        at += width
    parts = text[length:].split(GS)
    return Transmission(
        header, _parse_group(parts[0]), tuple(_parse_group(part) for part in parts[1:])
    )


def _parse_group(text: str) -> Group:
    segments: list[Segment] = []
    malformed: list[str] = []
    for chunk in text.split(RS):
        elements = [element for element in chunk.split(FS) if element]
        if not elements:
            continue
        head, *rest = elements
        if not head.startswith("AM") or len(head) != 4:
            malformed.append(f"a segment must start with its id AMnn, not {head[:6]!r}")
            continue
        fields = []
        for element in rest:
            if len(element) < 2:
                malformed.append(f"a field needs its two-character id: {element!r}")
            else:
                fields.append((element[:2], element[2:]))
        segments.append(Segment(head[2:], tuple(fields)))
    return Group(tuple(segments), tuple(malformed))


def _write(transmission: Transmission, layout: tuple[tuple[str, int], ...]) -> str:
    header = "".join(
        transmission.header.get(name, "").ljust(width)[:width] for name, width in layout
    )
    groups = "".join(GS + _write_group(group) for group in transmission.groups)
    return header + _write_group(transmission.transmission) + groups


def _write_group(group: Group) -> str:
    return "".join(
        RS + FS + "AM" + segment.id + "".join(FS + name + value for name, value in segment.fields)
        for segment in group.segments
    )
