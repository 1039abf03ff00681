"""Opening archive files and reading them line by line with bounded memory.

Compression is recognised by magic bytes, not by the file name (a ``.jsonl`` that
is really gzip still opens). Lines are read with a hard length cap: a 50 MB line
is skipped in chunks and reported with its head, never held whole in memory. Each
line carries the byte offset just after it in the *decompressed* stream, which is
what an interrupted import saves so that a re-run resumes there.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Self

from backports import zstd

MAX_LINE_BYTES = 5 * 1024 * 1024
"""Default cap on one line (or one CSV row); longer ones are quarantined with their head."""
RAW_HEAD_BYTES = 60_000
"""How much of an oversized line is kept as its quarantined payload (the store keeps
raw payloads whole up to 64,000 characters)."""

_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
)
COMPRESSED_SUFFIXES = (".gz", ".gzip", ".zst", ".zstd", ".bz2", ".xz")

STREAM_ERRORS: tuple[type[BaseException], ...] = (
    EOFError,
    zlib.error,
    gzip.BadGzipFile,
    lzma.LZMAError,
    zstd.ZstdError,
    OSError,
)
"""What a damaged compressed stream raises while being read (OSError covers bz2)."""


class InputError(ValueError):
    """A whole file cannot be imported; ``str(exc)`` is the one-line reason."""


def sniff_compression(path: Path) -> str | None:
    """``"gzip"``, ``"zstd"``, ``"bz2"``, ``"xz"`` from the first bytes, or ``None``."""
    with open(path, "rb") as fh:
        head = fh.read(6)
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return None


def fingerprint(path: Path) -> str:
    """Size plus a hash of the first 64 KB: tells a resumable file from a replaced one."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(65536)
    return f"{size}:{hashlib.sha1(head).hexdigest()}"


def strip_compression_suffix(name: str) -> str:
    for suffix in COMPRESSED_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


class Opened:
    """A file opened for reading: ``stream`` gives decompressed bytes.

    ``raw_position()`` is how far into the file on disk reading has got (compressed
    bytes), which is what the progress bar measures against the file size.
    """

    def __init__(self, path: Path, offset: int = 0) -> None:
        self.path = path
        self.compression = sniff_compression(path)
        self._raw: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed by close()
        self.stream: IO[bytes] = self._decompressing(self._raw)
        if offset:
            self._skip_to(offset)

    def _decompressing(self, raw: IO[bytes]) -> IO[bytes]:
        if self.compression == "gzip":
            return gzip.GzipFile(fileobj=raw, mode="rb")
        if self.compression == "zstd":
            # Pushshift dumps are compressed with --long=31: allow the 2 GB window.
            opts = {zstd.DecompressionParameter.window_log_max: 31}
            return zstd.ZstdFile(raw, mode="rb", options=opts)
        if self.compression == "bz2":
            return bz2.BZ2File(raw, mode="rb")
        if self.compression == "xz":
            return lzma.LZMAFile(raw, mode="rb")
        return raw

    def _skip_to(self, offset: int) -> None:
        if self.compression is None:
            self._raw.seek(offset)
            return
        left = offset
        while left > 0:
            chunk = self.stream.read(min(left, 1 << 20))
            if not chunk:
                break
            left -= len(chunk)

    def raw_position(self) -> int:
        try:
            return self._raw.tell()
        except (OSError, ValueError):
            return 0

    def close(self) -> None:
        if self.stream is not self._raw:
            self.stream.close()
        self._raw.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(slots=True)
class Line:
    """One physical line: its number, the offset after it, and its text or its problem."""

    no: int
    start: int
    end: int
    text: str | None
    problem: str | None = None
    raw: Any = None


def _describe_decode_error(data: bytes, exc: UnicodeDecodeError, encoding: str) -> str:
    bad = data[exc.start : exc.start + 4]
    return f"not valid {encoding}: byte {exc.start} is {bad!r} (re-run with --encoding latin-1 if the file is Latin-1)"


def iter_lines(
    stream: IO[bytes],
    *,
    start_offset: int = 0,
    start_line: int = 0,
    max_bytes: int = MAX_LINE_BYTES,
    encoding: str = "utf-8",
) -> Iterator[Line]:
    """Yield every line of ``stream`` (newline stripped), never buffering more than ``max_bytes``.

    Undecodable lines and lines over ``max_bytes`` come back with ``text=None``, a
    one-line ``problem`` and ``raw``: the line, or the head of an oversized one, as
    bytes decoded with Latin-1 (one character per byte, so the bytes are kept exactly).
    """
    offset, no = start_offset, start_line
    readline = stream.readline
    while True:
        data = readline(max_bytes + 1)
        if not data:
            return
        no += 1
        start = offset
        offset += len(data)
        if len(data) > max_bytes and not data.endswith(b"\n"):
            size = len(data)
            head = data[:RAW_HEAD_BYTES]
            del data
            while True:  # discard the rest of the line in bounded chunks
                more = readline(1 << 20)
                if not more:
                    break
                size += len(more)
                offset += len(more)
                if more.endswith(b"\n"):
                    break
            yield Line(
                no,
                start,
                offset,
                None,
                f"line is {size:,} bytes, over the {max_bytes:,}-byte limit (--max-line-bytes); "
                f"its first {len(head):,} bytes are kept",
                head.decode("latin-1"),
            )
            continue
        if data.endswith(b"\n"):
            data = data[:-2] if data.endswith(b"\r\n") else data[:-1]
        if no == 1 and data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            yield Line(
                no,
                start,
                offset,
                None,
                _describe_decode_error(data, exc, encoding),
                data.decode("latin-1"),
            )
            continue
        yield Line(no, start, offset, text)


def peek_lines(path: Path, n: int = 3, max_bytes: int = MAX_LINE_BYTES) -> list[str | None]:
    """The first ``n`` non-blank (decompressed) lines, for format detection.

    A line longer than ``max_bytes`` comes back as ``None`` (it cannot be judged).
    """
    out: list[str | None] = []
    with Opened(path) as f:
        try:
            for line in iter_lines(f.stream, max_bytes=max_bytes, encoding="latin-1"):
                if line.text is None:
                    out.append(None)
                elif line.text.strip():
                    out.append(line.text.strip())
                if len(out) >= n:
                    break
        except STREAM_ERRORS as exc:
            raise InputError(f"{path}: {describe_stream_error(f.compression, exc)}") from exc
    return out


def describe_stream_error(compression: str | None, exc: BaseException) -> str:
    """A one-line description of a damaged stream, naming the compression."""
    kind = f"corrupt {compression} data" if compression else "read error"
    msg = str(exc) or type(exc).__name__
    if isinstance(exc, EOFError):
        msg = "the file is truncated (compressed stream ended early)"
    return f"{kind}: {msg}"
