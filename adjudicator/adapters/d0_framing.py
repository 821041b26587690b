"""D.0 frames on a byte stream (NCPDP.md, Transports): one transmission per frame.

A frame is what follows the last STX before its ETX or, with no STX, everything since the
previous ETX. Bytes before an STX are dropped as they arrive, so what is held is at most
one frame's worth; a frame that grows past the limit is refused."""

from __future__ import annotations

from adjudicator.ncpdp.codec import ETX, STX

STX_BYTE = STX.encode("ascii")
ETX_BYTE = ETX.encode("ascii")
MAX_FRAME_BYTES = 64 * 1024


class FrameTooLarge(Exception):
    """A frame (or the bytes since the last ETX, with no STX) passed the limit."""


def framed(response: bytes) -> bytes:
    """A response as it is written back: STX + response + ETX (empty: unreadable header)."""
    return STX_BYTE + response + ETX_BYTE


class Deframer:
    """Feed it bytes as they come; it hands back the complete frames, in order."""

    def __init__(self, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self._max = max_frame_bytes
        self._pending = bytearray()  # the frame being received: since the last STX or ETX

    def feed(self, data: bytes) -> list[bytes]:
        """The frames `data` completes; raises FrameTooLarge past the limit."""
        *completed, rest = data.split(ETX_BYTE)
        frames = []
        for part in completed:
            self._add(part)
            frames.append(bytes(self._pending))
            self._pending.clear()
        self._add(rest)
        return frames

    @property
    def holding(self) -> int:
        """How many bytes of an unfinished frame are held."""
        return len(self._pending)

    def _add(self, part: bytes) -> None:
        start = part.rfind(STX_BYTE)
        if start >= 0:  # the frame starts afresh after the last STX
            self._pending[:] = part[start + 1 :]
        else:
            self._pending += part
        if len(self._pending) > self._max:
            raise FrameTooLarge(f"a frame over {self._max} bytes")
