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
    # Parts that are not segments or fields, one message each, naming the segment (and
    # the field) where it is: `AM07: ...`. The mapping answers a transaction group
    # holding any with a reject, never a crash.
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


def parse_request(text: str | bytes) -> Transmission:
    return _parse(text, REQUEST_HEADER, REQUEST_HEADER_LENGTH)


def parse_response(text: str | bytes) -> Transmission:
    return _parse(text, RESPONSE_HEADER, RESPONSE_HEADER_LENGTH)


def write_request(transmission: Transmission) -> str:
    return _write(transmission, REQUEST_HEADER, REQUEST_HEADER_LENGTH)


def write_response(transmission: Transmission) -> str:
    return _write(transmission, RESPONSE_HEADER, RESPONSE_HEADER_LENGTH)


def is_request(text: str) -> bool:
    """A request has its version `D0` at offset 6 (after the BIN), a response at 0."""
    return len(text) >= REQUEST_HEADER_LENGTH and text[6:8] == "D0"


def _as_text(data: str | bytes) -> str:
    """The transmission as text; bytes must be ASCII (any other byte: UnreadableHeader)."""
    if isinstance(data, str):
        if not data.isascii():
            raise UnreadableHeader("a transmission is ASCII: it holds a non-ASCII character")
        return data
    if isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
        if not raw.isascii():
            raise UnreadableHeader("a transmission is ASCII: it holds a byte over 0x7F")
        return raw.decode("ascii")
    raise UnreadableHeader(f"a transmission is text or bytes, not {type(data).__name__}")


def _parse(data: str | bytes, layout: tuple[tuple[str, int], ...], length: int) -> Transmission:
    text = _as_text(data)
    if len(text) < length:
        raise UnreadableHeader(f"the header needs {length} characters, {len(text)} were sent")
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
    seen: set[str] = set()
    for chunk in text.split(RS):
        # Empty elements (doubled, leading or trailing separators) carry nothing: skipped.
        elements = [element for element in chunk.split(FS) if element]
        if not elements:
            continue
        head = elements[0]
        if len(head) != 4 or not head.startswith("AM") or not head[2:].isdigit():
            malformed.append(
                f"a segment starts with its id AM and two digits (111-AM), not {head[:8]!r}"
            )
            continue
        segment_id = head[2:]
        if segment_id in seen:
            # Which copy would the mapping read? D.0 sends a segment once per group.
            malformed.append(f"{head}: the segment appears twice in one group")
        seen.add(segment_id)
        fields = []
        for element in elements[1:]:
            if len(element) < 2:
                malformed.append(f"{head}: a field needs its two-character id, not {element!r}")
                continue
            field_id = element[:2]
            if field_id == "AM":
                malformed.append(
                    f"{head}: {element[:8]!r} inside the segment: a segment separator is missing"
                )
            fields.append((field_id, element[2:]))
        segments.append(Segment(segment_id, tuple(fields)))
    return Group(tuple(segments), tuple(malformed))


def _write(transmission: Transmission, layout: tuple[tuple[str, int], ...], length: int) -> str:
    header = transmission.header
    head = "".join([header.get(name, "").ljust(width) for name, width in layout])
    if len(head) != length or not head.isascii():
        for name, width in layout:  # a value too long for its place: name it
            _header_value(header, name, width)
    out: list[str] = []
    extend = out.extend  # pieces joined once at the end: no string built per field
    segments = fields = 0
    odd_id = False
    for group in (transmission.transmission, *transmission.groups):
        out.append(GS)
        for segment in group.segments:
            extend((RS, FS, "AM", segment.id))
            odd_id |= len(segment.id) != 2 or not segment.id.isdigit()  # read back as AMnn
            for name, value in segment.fields:
                extend((FS, name, value))
                odd_id |= len(name) != 2
            segments += 1
            fields += len(segment.fields)
    out[0] = ""  # the transmission level has no GS before it
    body = "".join(out)
    # A value holding a separator would change the framing: one count per separator over
    # the body (in C) finds it; only then is the culprit looked for, to name it. The
    # header is fixed width, read by position: separators there are harmless.
    if (
        odd_id
        or body.count(RS) != segments
        or body.count(FS) != segments + fields
        or body.count(GS) != len(transmission.groups)
        or not body.isascii()
    ):
        raise ValueError(_unwritable(transmission))
    return head + body


def _header_value(header: dict[str, str], name: str, width: int) -> str:
    value = header.get(name, "")
    if len(value) > width or not value.isascii():
        raise ValueError(f"header {name} {value!r}: at most {width} ASCII characters")
    return value.ljust(width)


def _every_segment(transmission: Transmission) -> list[Segment]:
    every = list(transmission.transmission.segments)
    for group in transmission.groups:
        every.extend(group.segments)
    return every


def _unwritable(transmission: Transmission) -> str:
    """Name the segment id, field id or value that cannot be written."""
    for segment in _every_segment(transmission):
        if len(segment.id) != 2 or not (segment.id.isascii() and segment.id.isdigit()):
            return f"segment id {segment.id!r}: two digits (AMnn)"
        for name, value in segment.fields:
            if len(name) != 2 or not _plain(name):
                return f"AM{segment.id}: field id {name!r}: two ASCII characters, no separator"
            if not _plain(value):
                return f"AM{segment.id} {name}: {value!r} holds a separator or is not ASCII"
    return "the transmission holds a separator or a non-ASCII character in a value"


def _plain(text: str) -> bool:
    return text.isascii() and not (FS in text or GS in text or RS in text)
