"""A bounded line reader: an agent streaming bytes without newlines is a protocol failure."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from netcheck.errors import ProtocolError
from netcheck.transports.lines import LineReader, LineTooLong


def _reader(chunks: Sequence[bytes], max_line: int = 16) -> LineReader:
    todo = list(chunks)

    async def read(n: int) -> bytes:
        return todo.pop(0) if todo else b""

    return LineReader(read, max_line)


async def _all(r: LineReader) -> list[bytes]:
    out = []
    while (line := await r.next()) is not None:
        out.append(line)
    return out


def test_lines_split_across_and_within_chunks() -> None:
    r = _reader([b"ab", b"c\nde\nf", b"\r\ng\n", b"tail"])
    assert asyncio.run(_all(r)) == [b"abc\n", b"de\n", b"f\r\n", b"g\n", b"tail"]


def test_a_stream_without_newlines_fails_at_the_bound_not_at_eof() -> None:
    reads = 0

    async def endless(n: int) -> bytes:
        nonlocal reads
        reads += 1
        return b"x" * 10

    r = LineReader(endless, max_line=100)
    with pytest.raises(LineTooLong) as info:
        asyncio.run(r.next())
    assert isinstance(info.value, ProtocolError)
    assert "without a newline" in str(info.value)
    assert reads == 11  # stopped just past the limit: memory stays bounded


def test_a_long_line_inside_one_chunk_is_refused_too() -> None:
    r = _reader([b"short\n" + b"y" * 40 + b"\nok\n"], max_line=16)
    with pytest.raises(LineTooLong):
        asyncio.run(_all(r))


def test_a_line_of_exactly_the_bound_passes() -> None:
    r = _reader([b"z" * 15 + b"\n"], max_line=16)
    assert asyncio.run(_all(r)) == [b"z" * 15 + b"\n"]
