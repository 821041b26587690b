"""D.0 framing on a stream, as NCPDP.md's Transports says, fed in every possible split."""

from __future__ import annotations

import random

import pytest

from adjudicator.adapters.d0_framing import Deframer, FrameTooLarge, framed

STREAM = b"noise\x02ONE\x03\x02TWO\x03THREE\x03\x02\x02FOUR\x03junk\x02FIVE\x03"
FRAMES = [b"ONE", b"TWO", b"THREE", b"FOUR", b"FIVE"]


def _feed_all(chunks: list[bytes], limit: int = 64 * 1024) -> list[bytes]:
    deframer = Deframer(limit)
    return [frame for chunk in chunks for frame in deframer.feed(chunk)]


def test_several_frames_in_one_write_come_out_in_order():
    assert _feed_all([STREAM]) == FRAMES


def test_bytes_before_an_stx_are_ignored_and_with_no_stx_all_since_the_last_etx_is_the_frame():
    assert _feed_all([b"garbage\x02A\x03"]) == [b"A"]
    assert _feed_all([b"A\x03B\x03"]) == [b"A", b"B"]
    assert _feed_all([b"\x02A\x03\x03"]) == [b"A", b""]  # ETX ETX: an empty frame


def test_a_frame_split_anywhere_across_writes_reads_the_same():
    for cut in range(len(STREAM) + 1):
        assert _feed_all([STREAM[:cut], STREAM[cut:]]) == FRAMES


def test_a_stream_cut_at_random_reads_the_same():
    rng = random.Random(7)
    for _ in range(200):
        cuts = sorted(rng.sample(range(len(STREAM)), rng.randrange(1, 8)))
        pieces = [STREAM[a:b] for a, b in zip([0, *cuts], [*cuts, len(STREAM)], strict=True)]
        assert _feed_all(pieces) == FRAMES


def test_an_unfinished_frame_waits_for_its_etx():
    deframer = Deframer()
    assert deframer.feed(b"\x02AB") == [] and deframer.holding == 2
    assert deframer.feed(b"C\x03") == [b"ABC"] and deframer.holding == 0


def test_a_frame_over_the_limit_is_refused_one_at_it_is_not():
    assert _feed_all([b"\x02" + b"x" * 10 + b"\x03"], limit=10) == [b"x" * 10]
    with pytest.raises(FrameTooLarge):
        _feed_all([b"\x02" + b"x" * 6, b"x" * 5], limit=10)
    with pytest.raises(FrameTooLarge):  # no STX: everything since the last ETX counts
        _feed_all([b"x" * 11], limit=10)


def test_bytes_before_an_stx_do_not_count_toward_the_limit():
    assert _feed_all([b"y" * 8, b"\x02" + b"x" * 10 + b"\x03"], limit=10) == [b"x" * 10]


def test_an_answer_is_framed_with_stx_and_etx():
    assert framed(b"D0B1") == b"\x02D0B1\x03"
    assert framed(b"") == b"\x02\x03"
