"""Compressed logs, told by their first bytes and never by the file's name: gzip, bzip2, xz and zstd.

A log reaches people compressed by whatever rotated or archived it (logrotate's gzip, bzip2 or xz, zstd on newer
systems, gzip in CloudWatch's exports to S3), often renamed on the way. The magic number at the start of the data
is what the decompressor itself checks, so it is what decides. A truncated or corrupt stream is an error naming
the compression, never a log that silently ends early.
"""

from __future__ import annotations

import gzip
import io
import zlib
from typing import Any, BinaryIO

# (magic number, name): the first bytes each format's own specification requires.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)
MAGIC_BYTES = max(len(magic) for magic, _ in _MAGIC)
NAMES: tuple[str, ...] = tuple(name for _, name in _MAGIC)


class CorruptData(ValueError):
    """Compressed data that does not decompress: truncated, or damaged."""


def compression_of(head: bytes) -> str | None:
    """The compression whose magic number `head` starts with, or None for data that is not compressed."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return None


def decompressing(handle: BinaryIO) -> tuple[BinaryIO, str | None]:
    """`handle` itself when its data is not compressed, else a reader of the decompressed data; and the name of
    the compression (None when none). `handle` must support peek (a buffered reader), which leaves the bytes
    looked at in place for whoever reads next."""
    kind = compression_of(handle.peek(MAGIC_BYTES)[:MAGIC_BYTES])  # type: ignore[attr-defined]
    if kind == "gzip":
        return gzip.open(handle), kind  # type: ignore[return-value]
    # bz2, lzma and zstandard are imported only when a file needs them: each costs every other scan's start.
    if kind == "bzip2":
        import bz2

        return bz2.open(handle), kind  # type: ignore[return-value]
    if kind == "xz":
        import lzma

        return lzma.open(handle), kind  # type: ignore[return-value]
    if kind == "zstd":
        return _ZstdReader(handle), kind  # type: ignore[return-value]
    return handle, None


def read_errors() -> tuple[type[BaseException], ...]:
    """What reading a decompressed stream raises on bad data: OSError (a bad gzip header or CRC, bzip2's errors),
    zlib.error (damaged deflate data inside a gzip member), EOFError (a stream cut short), lzma.LZMAError, and
    CorruptData (zstandard's own error, turned into it by _ZstdReader). Asked only once something was raised."""
    import lzma

    return (OSError, EOFError, zlib.error, lzma.LZMAError, CorruptData)


_ZSTD_CHUNK = 1 << 18  # compressed bytes handed to the decompressor at a time


class _ZstdReader(io.RawIOBase):
    """A zstd stream of one or more frames, decompressed as it is read.

    The zstandard package's own stream reader returns a truncated stream's data as if it were whole, and stops
    at the end of the first frame unless told otherwise (a log appended to by `zstd -c >>` holds several): this
    reader decompresses frame after frame and raises CorruptData when the data ends inside a frame.
    """

    def __init__(self, raw: BinaryIO) -> None:
        import zstandard

        self._zstd: Any = zstandard
        self._raw = raw
        self._decompressor = zstandard.ZstdDecompressor()
        self._frame = self._decompressor.decompressobj()
        self._in_frame = False  # some of the current frame was fed, and its end not seen yet
        self._out = b""
        self._ended = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        """Up to `size` decompressed bytes (all that is left with -1); b"" at the end of the data."""
        while not self._ended and (size < 0 or len(self._out) < size):
            self._decompress(self._raw.read(_ZSTD_CHUNK))
        if size < 0:
            size = len(self._out)
        data, self._out = self._out[:size], self._out[size:]
        return data

    def _decompress(self, data: bytes) -> None:
        if not data:
            self._ended = True
            if self._in_frame:
                raise CorruptData("the data ends inside a zstd frame (truncated)")
            return
        try:
            while data:
                self._in_frame = True
                self._out += self._frame.decompress(data)
                if not self._frame.eof:
                    return
                self._in_frame = False  # a whole frame: the bytes after it start the next one
                data = self._frame.unused_data
                self._frame = self._decompressor.decompressobj()
        except self._zstd.ZstdError as exc:
            raise CorruptData(str(exc)) from exc

    def close(self) -> None:
        self._raw.close()
        super().close()
