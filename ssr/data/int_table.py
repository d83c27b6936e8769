"""Bulk parsing of whitespace-separated integer tables (the numeric dataset formats), with a
line-by-line pass that runs only to name the first malformed line."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ssr.data.log import DataFileNotFoundError, DataFormatError

LINE_SHOWN = 100  # characters of an offending line quoted in an error message
_INT_TOKEN = re.compile(rb"[+-]?[0-9]+")
_INT64 = np.iinfo(np.int64)
_BLOCK_BYTES = 1 << 22  # bytes parsed at a time in bulk
_SLOW_CHUNK = 4096  # lines per block checked in bulk when looking for the first malformed line



# --------------------------------------------------------------------------------------------------
# shared helpers


def shown(line: bytes | str) -> str:
    """The repr of an offending line, cut to about 100 characters so messages stay on one line."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", errors="replace")
    line = line.rstrip("\r\n")
    if len(line) > LINE_SHOWN:
        return repr(line[:LINE_SHOWN]) + "..."
    return repr(line)


def check_data_file(path: Path) -> None:
    """A missing path or a directory is an error naming the path."""
    if not path.exists():
        raise DataFileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise DataFormatError(f"{path}: is a directory; pass the data file itself")


UTF8_BOM = b"\xef\xbb\xbf"


def read_bytes(path: Path) -> bytes:
    """The file's bytes without a leading UTF-8 byte-order mark (which editors on Windows add): every
    reader treats a BOM the same way."""
    check_data_file(path)
    data = path.read_bytes()
    return data[len(UTF8_BOM):] if data.startswith(UTF8_BOM) else data


def no_interactions(path: Path) -> DataFormatError:
    return DataFormatError(f"{path}: no interactions (no non-blank data lines)")


def _tokenize(buf: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(byte offset of each whitespace-separated token, token count of each line) of ``buf``.

    Lines are ``\\n``-separated; the counts include blank lines and the (possibly empty) piece
    after the last newline. Vectorised: no Python loop over lines or tokens.
    """
    b = np.frombuffer(buf, dtype=np.uint8)
    # np.fromstring separates on C isspace (\\t \\n \\v \\f \\r, space); other control bytes
    # counted as separators here make the counts disagree with the parse, so they are reported
    ws = b <= 32
    start = ~ws
    start[1:] &= ws[:-1]  # a token starts at a non-space byte that follows a space (or the start)
    starts = np.flatnonzero(start)
    newlines = np.flatnonzero(b == 10)
    before = np.searchsorted(starts, newlines)  # token starts before each newline
    bounds = np.concatenate(([0], before, [len(starts)]))
    return starts, np.diff(bounds)


def _parse_ints(buf: bytes) -> np.ndarray | None:
    """All whitespace-separated integers of ``buf``, or None if some token is not an integer."""
    with warnings.catch_warnings():
        # numpy warns (DeprecationWarning today, ValueError in the future) when it stops early
        warnings.simplefilter("error")
        try:
            values = np.fromstring(buf, dtype=np.int64, sep=" ")
        except (DeprecationWarning, ValueError):
            return None
    if values.size and (values.max() == _INT64.max or values.min() == _INT64.min):
        return None  # numpy saturates out-of-range values silently; let the slow pass report them
    return values


def ints_ok(tokens: list[bytes], min_cols: int, max_cols: int | None) -> bool:
    """Whether one line's tokens are between min_cols and max_cols int64 integers (or none)."""
    if not tokens:
        return True
    if len(tokens) < min_cols or (max_cols is not None and len(tokens) > max_cols):
        return False
    return all(_INT_TOKEN.fullmatch(tok) and _INT64.min < int(tok) < _INT64.max for tok in tokens)


def bulk_parse(
    text: bytes, min_cols: int, max_cols: int | None
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """(values, token count of each non-blank line, token offsets) of lines of integers, vectorised.

    values is None when some line is malformed (a token that is not an integer, or fewer than
    ``min_cols`` or more than ``max_cols`` tokens on a line).
    """
    starts, counts = _tokenize(text)
    counts = counts[counts > 0]
    if counts.size == 0:  # (np.fromstring reads a whitespace-only text as [0])
        return np.zeros(0, dtype=np.int64), counts, starts
    values = _parse_ints(text)
    shape_ok = counts.min() >= min_cols and (max_cols is None or counts.max() <= max_cols)
    if values is None or not shape_ok or values.size != counts.sum():
        return None, counts, starts
    return values, counts, starts


# a bulk parser (text -> (values or None, counts)) and a one-line checker (raw line -> ok) that
# accept the same lines; the checker only runs to name the first malformed line
_BulkParser = Callable[[bytes], tuple[np.ndarray | None, np.ndarray]]
_LineChecker = Callable[[bytes], bool]


def _blocks(body: bytes) -> Iterator[bytes]:
    """``body`` in pieces of about _BLOCK_BYTES that end at a newline (so that the temporary arrays
    of the bulk parse stay small and their memory is reused instead of page-faulted in anew)."""
    start, size = 0, len(body)
    while start < size:
        end = body.find(b"\n", start + _BLOCK_BYTES) + 1 if start + _BLOCK_BYTES < size else 0
        end = end or size
        yield body[start:end]
        start = end


def _first_bad_line(
    body: bytes, bulk: _BulkParser, line_ok: _LineChecker
) -> tuple[int, bytes] | None:
    """(0-based index, raw line) of the first non-blank line that fails to parse, or None.

    Blocks of lines are checked in bulk first; only a failing block is read line by line.
    """
    lines = body.split(b"\n")
    for first in range(0, len(lines), _SLOW_CHUNK):
        block = lines[first : first + _SLOW_CHUNK]
        if bulk(b"\n".join(block) + b"\n")[0] is not None:
            continue
        for index, raw in enumerate(block, start=first):
            if not line_ok(raw):
                return index, raw
    return None


def int_table(
    path: Path,
    body: bytes,
    *,
    bulk: _BulkParser,
    line_ok: _LineChecker,
    expected: str,
    first_lineno: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Parse ``body`` with ``bulk``; on failure find and report the first line ``line_ok`` rejects.

    Returns ``(values, counts)``: every integer in file order and the token count of each non-blank
    line. Raises DataFormatError ``"{path}:{lineno}: expected {expected}, got {line!r}"``.
    """
    if body and not body.endswith(b"\n"):
        body += b"\n"
    parts = [bulk(block) for block in _blocks(body)]
    if any(values is None for values, _ in parts):
        bad = _first_bad_line(body, bulk, line_ok)
        if bad is None:  # cannot happen unless the two passes disagree; still fail loudly
            raise DataFormatError(f"{path}: expected {expected} on every line")
        index, raw = bad
        raise DataFormatError(
            f"{path}:{index + first_lineno}: expected {expected}, got {shown(raw)}"
        )
    values = np.concatenate([values for values, _ in parts] or [np.zeros(0, dtype=np.int64)])
    counts = np.concatenate([counts for _, counts in parts] or [np.zeros(0, dtype=np.int64)])
    if values.size == 0:
        raise no_interactions(path)
    return values, counts


def _same(text: bytes) -> bytes:
    return text


def int_format(
    min_cols: int, max_cols: int | None, transform: Callable[[bytes], bytes] = _same
) -> tuple[_BulkParser, _LineChecker]:
    """(bulk, line_ok) for lines of integers, once ``transform`` has made separators spaces."""

    def bulk(text: bytes) -> tuple[np.ndarray | None, np.ndarray]:
        return bulk_parse(transform(text), min_cols, max_cols)[:2]

    def line_ok(raw: bytes) -> bool:
        return ints_ok(transform(raw).split(), min_cols, max_cols)

    return bulk, line_ok


def columns(values: np.ndarray, ncols: int, *cols: int) -> list[np.ndarray]:
    table = values.reshape(-1, ncols)
    return [np.ascontiguousarray(table[:, c]) for c in cols]
