"""The D.0 codec: golden transmissions with repeats, round trips, malformed parts, fuzz,
and interop with dzero-python (the outside client the tests speak D.0 with)."""

from __future__ import annotations

import contextlib

import pytest
from dzero_python import Request, Response
from dzero_python import segments as dzero_segments
from hypothesis import given, settings
from hypothesis import strategies as st

from adjudicator.ncpdp.amounts import read_amount
from adjudicator.ncpdp.codec import (
    FS,
    GS,
    REQUEST_HEADER,
    RESPONSE_HEADER,
    RS,
    Group,
    Segment,
    Transmission,
    UnreadableHeader,
    is_request,
    parse_request,
    parse_response,
    write_request,
    write_response,
)
from adjudicator.ncpdp.commands import decode
from adjudicator.ncpdp.fields import FieldError, read_field, read_optional_field

pytestmark = pytest.mark.unit

REQUEST_HEADER_TEXT = "999999D0B1IPSENCARES1011234567893     20260301          "
RESPONSE_HEADER_TEXT = "D0B11A011234567893     20260301"


def segment(segment_id: str, *fields: str) -> str:
    """`RS FS AMnn FS field...` as a D.0 writer sends it."""
    return RS + FS + "AM" + segment_id + "".join(FS + element for element in fields)


# Two other payers, each with several NP/NQ pairs and 6E codes, in one AM05.
COB_B1 = (
    REQUEST_HEADER_TEXT
    + segment("04", "C2C-0001", "C1IPSENCARES")
    + segment("01", "C420150402")
    + GS
    + segment(
        "07", "EM1", "D21001", "D30", "E103", "D715054104005", "E70000008000", "D530", "C88"
    )  # fmt: skip
    + segment(
        "05",
        "4C2",
        "5C01",
        "6C03",
        "7C003858",
        "5E2",
        "6E70",
        "6EMR",
        "NR3",
        "NP06",
        "NQ15000{",
        "NP05",
        "NQ2500E",
        "NP01",
        "NQ1000}",
        "5C02",
        "6C03",
        "7C610014",
        "5E3",
        "6E41",
        "6E75",
        "6EA",
        "NR2",
        "NP06",
        "NQ4000{",
        "NP02",
        "NQ99I",
    )  # fmt: skip
    + segment("11", "DU15000{")
)

# A rejected answer: several FB reject codes and FQ lines with their UF/UH/UG fields.
REJECT_RESPONSE = (
    RESPONSE_HEADER_TEXT
    + segment("20", "F4PROGRAM IPSEN CARES")
    + GS
    + segment(
        "21",
        "ANR",
        "FA3",
        "FB07",
        "FB13",
        "FB65",
        "UF3",
        "UH01",
        "FQCARDHOLDER NOT FOUND",
        "UH02",
        "FQOTHER COVERAGE CODE 8 NEEDS A",
        "UG+",
        "UH03",
        "FQPATIENT PAY AMOUNT",
    )  # fmt: skip
    + segment("22", "EM1", "D201001")
)


def test_every_repeat_of_a_cob_b1_is_kept_in_order():
    parsed = parse_request(COB_B1)

    cob = parsed.groups[0].segment("05")
    assert cob is not None
    assert cob.every("5C") == ["01", "02"]
    assert cob.every("7C") == ["003858", "610014"]
    assert cob.every("6E") == ["70", "MR", "41", "75", "A"]
    assert cob.every("NP") == ["06", "05", "01", "06", "02"]
    assert cob.every("NQ") == ["15000{", "2500E", "1000}", "4000{", "99I"]
    # The order across fields is kept too: the second payer's pairs follow its own 5C.
    ids = [name for name, _ in cob.fields]
    assert ids.index("NQ", ids.index("5C", 1)) > ids.index("5C", 1)
    assert cob.first("NQ") == "15000{"
    assert parsed.header["pcn"] == "IPSENCARES" and parsed.header["software"] == " " * 10
    assert all(not group.malformed for group in (parsed.transmission, *parsed.groups))


def test_every_reject_code_and_message_line_of_a_response_is_kept_in_order():
    parsed = parse_response(REJECT_RESPONSE)

    status = parsed.groups[0].segment("21")
    assert status is not None
    assert status.every("FB") == ["07", "13", "65"]
    assert status.every("UH") == ["01", "02", "03"]
    assert status.every("FQ")[1] == "OTHER COVERAGE CODE 8 NEEDS A"
    assert [name for name, _ in status.fields][5:] == [
        "UF", "UH", "FQ", "UH", "FQ", "UG", "UH", "FQ",
    ]  # fmt: skip
    assert parsed.header["status"] == "A" and parsed.header["count"] == "1"


@pytest.mark.parametrize(
    ("text", "parse", "write"),
    [(COB_B1, parse_request, write_request), (REJECT_RESPONSE, parse_response, write_response)],
)
def test_writing_what_was_parsed_gives_the_same_bytes(text, parse, write):
    assert write(parse(text)) == text


def test_dzero_python_keeps_only_the_last_copy_of_a_repeated_field():
    """Why we have a codec of our own (docs/decisions.md #97)."""
    theirs = Request.parse(COB_B1).transaction_groups[0].segments[1].hash

    assert theirs["6E"] == "A"  # five codes sent, the last one left
    assert theirs["NQ"] == "99I"
    assert theirs["7C"] == "610014"  # the first payer's BIN, the one rule 8 reads, is gone
    ours = parse_request(COB_B1).groups[0].segment("05")
    assert ours is not None and len(ours.every("6E")) == 5


# --- edge cases of the framing -------------------------------------------------------


def test_an_empty_transaction_group_counts_as_a_group():
    parsed = parse_request(REQUEST_HEADER_TEXT + segment("04", "C2X") + GS + GS)

    assert parsed.groups == (Group(), Group())
    assert write_request(parsed) == REQUEST_HEADER_TEXT + segment("04", "C2X") + GS + GS


def test_a_header_alone_has_no_group():
    parsed = parse_request(REQUEST_HEADER_TEXT)

    assert parsed.groups == () and parsed.transmission == Group()


def test_a_two_character_field_is_a_field_with_an_empty_value():
    parsed = parse_request(REQUEST_HEADER_TEXT + segment("04", "C2X", "C1") + GS)

    insurance = parsed.transmission.segment("04")
    assert insurance is not None
    assert insurance.fields == (("C2", "X"), ("C1", ""))
    assert insurance.first("C1") == ""


def test_doubled_leading_and_trailing_separators_carry_nothing():
    text = REQUEST_HEADER_TEXT + RS + RS + FS + FS + "AM04" + FS + FS + "C2X" + FS + RS + FS + GS

    parsed = parse_request(text)

    assert parsed.transmission == Group((Segment("04", (("C2", "X"),)),))
    assert parsed.groups == (Group(),)


def test_a_segment_without_its_leading_field_separator_is_still_read():
    parsed = parse_request(REQUEST_HEADER_TEXT + RS + "AM04" + FS + "C2X")

    assert parsed.transmission.segments == (Segment("04", (("C2", "X"),)),)


@pytest.mark.parametrize(
    ("body", "names"),
    [
        (RS + FS + "XX04" + FS + "C2X", "111-AM"),
        (RS + FS + "AMxy" + FS + "C2X", "111-AM"),
        (RS + FS + "AM1" + FS + "C2X", "111-AM"),
        ("garbage before any segment", "111-AM"),
        (segment("07", "EM1", "D", "D21"), "AM07: a field needs its two-character id"),
        (segment("07", "D21") + segment("07", "D22"), "AM07: the segment appears twice"),
        (segment("07", "D21", "AM11", "DU100{"), "AM07: 'AM11' inside the segment"),
    ],
)
def test_a_malformed_part_is_reported_by_name_and_never_raises(body, names):
    parsed = parse_request(REQUEST_HEADER_TEXT + GS + body)

    assert parsed.transmission.malformed == ()
    assert len(parsed.groups[0].malformed) == 1
    assert names in parsed.groups[0].malformed[0]


def test_the_first_copy_of_a_twice_sent_segment_is_the_one_found():
    parsed = parse_request(REQUEST_HEADER_TEXT + GS + segment("07", "D21") + segment("07", "D22"))

    found = parsed.groups[0].segment("07")
    assert found is not None and found.first("D2") == "1"


@pytest.mark.parametrize(
    "data",
    [
        "",
        REQUEST_HEADER_TEXT[:55],
        REQUEST_HEADER_TEXT + segment("04", "C2é"),
        REQUEST_HEADER_TEXT.encode() + b"\x1e\x1cAM04\x1cC2\xff",
        b"\x80" * 60,
        None,
        12345,
    ],
)
def test_a_short_or_non_ascii_transmission_is_an_unreadable_header(data):
    with pytest.raises(UnreadableHeader):
        parse_request(data)


def test_bytes_are_read_as_ascii_text():
    assert parse_request(COB_B1.encode("ascii")) == parse_request(COB_B1)
    assert parse_response(bytearray(REJECT_RESPONSE, "ascii")) == parse_response(REJECT_RESPONSE)


def test_a_response_header_needs_31_characters():
    with pytest.raises(UnreadableHeader, match="31"):
        parse_response(RESPONSE_HEADER_TEXT[:30])
    assert parse_response(RESPONSE_HEADER_TEXT).groups == ()


def test_a_request_is_told_from_a_response_by_where_its_version_is():
    assert is_request(COB_B1)
    assert not is_request(REJECT_RESPONSE)


@pytest.mark.parametrize(
    ("transmission", "names"),
    [
        (Transmission({"bin": "9999999"}), "header bin"),
        (Transmission({}, Group((Segment("04", (("C2", "A\x1cB"),)),))), "AM04 C2"),
        (Transmission({}, groups=(Group((Segment("07", (("D2", "1\x1d"),)),)),)), "AM07 D2"),
        (Transmission({}, Group((Segment("04", (("C", "X"),)),))), "field id 'C'"),
        (Transmission({}, Group((Segment("4", ()),))), "segment id '4'"),
        (Transmission({}, groups=(Group((Segment("xy", ()),)),)), "segment id 'xy'"),
        (Transmission({}, Group((Segment("04", (("C2", "é"),)),))), "AM04 C2"),
    ],
)
def test_writing_a_value_that_would_break_the_framing_is_refused_by_name(transmission, names):
    with pytest.raises(ValueError, match=names):
        write_request(transmission)


# --- properties ----------------------------------------------------------------------

SEPARATORS = FS + GS + RS
ascii_text = st.text(
    alphabet=st.characters(min_codepoint=0, max_codepoint=127, blacklist_characters=SEPARATORS)
)
field_ids = st.text(
    alphabet=st.characters(min_codepoint=0, max_codepoint=127, blacklist_characters=SEPARATORS),
    min_size=2,
    max_size=2,
).filter(lambda field_id: field_id != "AM")  # AM is the segment id's field: never a field
segments = st.builds(
    Segment,
    st.from_regex(r"[0-9]{2}", fullmatch=True),
    st.lists(st.tuples(field_ids, ascii_text), max_size=12).map(tuple),
)


def groups_of(segments_strategy: st.SearchStrategy[Segment]) -> st.SearchStrategy[Group]:
    # One segment per id in a group: two would be reported malformed, not lost.
    return st.lists(segments_strategy, max_size=5, unique_by=lambda s: s.id).map(
        lambda found: Group(tuple(found))
    )


def headers(layout: tuple[tuple[str, int], ...]) -> st.SearchStrategy[dict[str, str]]:
    # Header values are read by position: any ASCII, separators included.
    any_ascii = st.characters(min_codepoint=0, max_codepoint=127)
    return st.fixed_dictionaries(
        {name: st.text(alphabet=any_ascii, min_size=n, max_size=n) for name, n in layout}
    )


def transmissions(layout: tuple[tuple[str, int], ...]) -> st.SearchStrategy[Transmission]:
    return st.builds(
        Transmission,
        headers(layout),
        groups_of(segments),
        st.lists(groups_of(segments), max_size=4).map(tuple),
    )


@given(transmissions(REQUEST_HEADER))
def test_any_request_written_then_parsed_is_the_same(transmission):
    assert parse_request(write_request(transmission)) == transmission


@given(transmissions(RESPONSE_HEADER))
def test_any_response_written_then_parsed_is_the_same(transmission):
    assert parse_response(write_response(transmission)) == transmission


@settings(max_examples=300)
@given(st.one_of(st.text(), st.binary(), st.text(alphabet=SEPARATORS + "AM0147C2 ", min_size=50)))
def test_parsing_any_text_or_bytes_raises_nothing_but_unreadable_header(data):
    for parse in (parse_request, parse_response):
        try:
            parsed = parse(data)
        except UnreadableHeader:
            continue
        assert isinstance(parsed, Transmission)


@settings(max_examples=200)
@given(st.lists(st.sampled_from([FS, GS, RS, "AM", "04", "07", "C2", "X", ""]), max_size=40))
def test_separators_anywhere_after_the_header_never_raise(parts):
    parsed = parse_request(REQUEST_HEADER_TEXT + "".join(parts))

    assert len(parsed.groups) == "".join(parts).count(GS)


# --- interop with dzero-python --------------------------------------------------------

DZERO_HEADER = {
    "bin_number": "999999",
    "version": "D0",
    "transaction_code": "B1",
    "processor_control_number": "IPSENCARES",
    "transaction_count": "1",
    "service_provider_id_qualifier": "01",
    "service_provider_id": "1234567893",
    "date_of_service": "20260301",
    "software": "",
}


def test_a_request_built_by_dzero_python_parses_to_the_same_fields():
    built = Request(
        header=DZERO_HEADER,
        segments=[
            dzero_segments.Insurance({"C2": "C-0001", "C1": "IPSENCARES"}),
            dzero_segments.Patient({"C4": "20150402"}),
            dzero_segments.Claim({"EM": "1", "D2": "1001", "D3": "0", "D7": "15054104005"}),
            dzero_segments.CoordOfBenefits({"4C": "1", "7C": "003858", "NQ": "15000{"}),
            dzero_segments.Pricing({"DU": "15000{"}),
        ],
    )

    ours = parse_request(built.to_s())

    assert {name: value.rstrip() for name, value in ours.header.items()} == dict(
        zip([name for name, _ in REQUEST_HEADER], DZERO_HEADER.values(), strict=True)
    )
    theirs = built.transmission_group.segments + built.transaction_groups[0].segments
    mine = ours.transmission.segments + ours.groups[0].segments
    assert [(s.id, dict(s.fields)) for s in mine] == [
        (t.hash["AM"], {k: v for k, v in t.hash.items() if k != "AM"}) for t in theirs
    ]


def test_a_response_we_write_parses_with_dzero_python_to_the_same_last_copies():
    ours = parse_response(REJECT_RESPONSE)

    theirs = Response.parse(write_response(ours))

    assert theirs.header["header_response_status"] == "A"
    assert theirs.header["service_provider_id"] == "1234567893"
    status = theirs.transaction_groups[0].segments[0].hash
    mine = ours.groups[0].segment("21")
    assert mine is not None
    for name, _ in mine.fields:
        assert status[name] == mine.every(name)[-1]
    assert theirs.transmission_group.segments[0].hash["F4"] == "PROGRAM IPSEN CARES"


# --- reading a field by name, with its M/I code ------------------------------------------


def test_a_missing_or_unreadable_field_is_named_with_its_m_i_code():
    pricing = Segment("11", (("DU", "15000{"), ("DQ", "12,00")))
    assert read_field(pricing, "DU", read_amount) == 150000
    assert read_optional_field(pricing, "D9", read_amount) is None
    assert read_optional_field(None, "DU", read_amount) is None

    with pytest.raises(FieldError, match=r"430-DU gross amount due \(M/I DU\): missing") as raised:
        read_field(None, "DU", read_amount)
    assert raised.value.code == "DU" and raised.value.field_id == "DU"
    with pytest.raises(FieldError, match=r"402-D2 .* \(M/I 16\): missing from AM07"):
        read_field(Segment("07", (("EM", "1"),)), "D2", str)
    with pytest.raises(FieldError, match=r"426-DQ usual and customary charge: '12,00'") as raised:
        read_field(pricing, "DQ", read_amount)
    assert raised.value.code is None


any_ascii_text = st.text(alphabet=st.characters(max_codepoint=127))


@settings(max_examples=300)
@given(any_ascii_text, st.binary())
def test_anything_after_a_readable_header_parses_and_counts_its_groups(text, raw):
    for parse, header in (
        (parse_request, REQUEST_HEADER_TEXT),
        (parse_response, RESPONSE_HEADER_TEXT),
    ):
        parsed = parse(header + text)
        assert len(parsed.groups) == text.count(GS)
        for group in (parsed.transmission, *parsed.groups):
            assert all(len(name) == 2 for segment in group.segments for name, _ in segment.fields)
        if raw.isascii():
            assert len(parse(header.encode() + raw).groups) == raw.count(GS.encode())
        else:
            with pytest.raises(UnreadableHeader):
                parse(header.encode() + raw)


@settings(max_examples=200)
@given(st.one_of(any_ascii_text, st.text()))
def test_decode_of_anything_raises_nothing_but_unreadable_header(text):
    for candidate in (text, REQUEST_HEADER_TEXT + text, RESPONSE_HEADER_TEXT + text):
        with contextlib.suppress(UnreadableHeader):
            decode(candidate)
