"""Readers for the raw interaction files of the supported datasets, one function per format.

Every reader returns an :class:`~ssr.data.log.InteractionLog` in file order and raises
:class:`~ssr.data.log.DataFormatError` with a one-line ``path:line: what was expected`` message on a
malformed file. The numeric formats (``ml-100k``, ``ml-1m``, ``seqfile``, ``retailrocket``) are
parsed in bulk with numpy (no Python loop per row); a slower line-by-line pass runs only to name the
offending line once the bulk parse has found a problem. Blank lines are ignored everywhere.
"""

from __future__ import annotations

import ast
import csv
import datetime as _dt
import gzip
import io
import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ssr.data.log import DataFormatError, InteractionLog

__all__ = [
    "READERS",
    "DataFileNotFoundError",
    "read_amazon_csv",
    "read_log",
    "read_ml1m",
    "read_ml100k",
    "read_retailrocket",
    "read_seqfile",
    "read_steam",
]

_LINE_SHOWN = 100  # characters of an offending line quoted in an error message
_INT_TOKEN = re.compile(rb"[+-]?[0-9]+")
_INT64 = np.iinfo(np.int64)
_BLOCK_BYTES = 1 << 22  # bytes parsed at a time in bulk
_SLOW_CHUNK = 4096  # lines per block checked in bulk when looking for the first malformed line


class DataFileNotFoundError(FileNotFoundError):
    """The data file does not exist; the message names the path and, if known, how to get it."""


# --------------------------------------------------------------------------------------------------
# shared helpers


def _shown(line: bytes | str) -> str:
    """The repr of an offending line, cut to about 100 characters so messages stay on one line."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", errors="replace")
    line = line.rstrip("\r\n")
    if len(line) > _LINE_SHOWN:
        return repr(line[:_LINE_SHOWN]) + "..."
    return repr(line)


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise DataFileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise DataFormatError(f"{path}: is a directory; pass the data file itself")
    return path.read_bytes()


def _no_interactions(path: Path) -> DataFormatError:
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


def _ints_ok(tokens: list[bytes], min_cols: int, max_cols: int | None) -> bool:
    """Whether one line's tokens are between min_cols and max_cols int64 integers (or none)."""
    if not tokens:
        return True
    if len(tokens) < min_cols or (max_cols is not None and len(tokens) > max_cols):
        return False
    return all(_INT_TOKEN.fullmatch(tok) and _INT64.min < int(tok) < _INT64.max for tok in tokens)


def _bulk_parse(
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


def _int_table(
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
            f"{path}:{index + first_lineno}: expected {expected}, got {_shown(raw)}"
        )
    values = np.concatenate([values for values, _ in parts] or [np.zeros(0, dtype=np.int64)])
    counts = np.concatenate([counts for _, counts in parts] or [np.zeros(0, dtype=np.int64)])
    if values.size == 0:
        raise _no_interactions(path)
    return values, counts


def _same(text: bytes) -> bytes:
    return text


def _int_format(
    min_cols: int, max_cols: int | None, transform: Callable[[bytes], bytes] = _same
) -> tuple[_BulkParser, _LineChecker]:
    """(bulk, line_ok) for lines of integers, once ``transform`` has made separators spaces."""

    def bulk(text: bytes) -> tuple[np.ndarray | None, np.ndarray]:
        return _bulk_parse(transform(text), min_cols, max_cols)[:2]

    def line_ok(raw: bytes) -> bool:
        return _ints_ok(transform(raw).split(), min_cols, max_cols)

    return bulk, line_ok


def _columns(values: np.ndarray, ncols: int, *cols: int) -> list[np.ndarray]:
    table = values.reshape(-1, ncols)
    return [np.ascontiguousarray(table[:, c]) for c in cols]


# --------------------------------------------------------------------------------------------------
# numeric formats (vectorised)

_ML100K = _int_format(4, 4)
_ML1M = _int_format(4, 4, lambda text: text.replace(b"::", b" "))  # a lone ':' stays, and fails
_SEQFILE = _int_format(2, None)


def read_ml100k(path: str | Path) -> InteractionLog:
    """MovieLens 100K ``u.data``: ``user<TAB>item<TAB>rating<TAB>unix_timestamp`` per line.

    Any run of spaces or tabs is accepted as the separator.
    Source: https://files.grouplens.org/datasets/movielens/ml-100k.zip (member ``ml-100k/u.data``).
    """
    return _read_rating_table(path, _ML100K, "4 tab-separated integers 'user item rating timestamp'")


def read_ml1m(path: str | Path) -> InteractionLog:
    """MovieLens 1M ``ratings.dat``: ``UserID::MovieID::Rating::Timestamp`` per line.

    Source: https://files.grouplens.org/datasets/movielens/ml-1m.zip (member ``ml-1m/ratings.dat``).
    """
    return _read_rating_table(path, _ML1M, "4 '::'-separated integers 'UserID::MovieID::Rating::Timestamp'")


def _read_rating_table(path: str | Path, int_format, expected: str) -> InteractionLog:
    """`user item rating timestamp` integer rows (MovieLens) in the given separator format."""
    path = Path(path)
    bulk, line_ok = int_format
    values, _ = _int_table(path, _read_bytes(path), bulk=bulk, line_ok=line_ok, expected=expected)
    user, item, ts = _columns(values, 4, 0, 1, 3)
    return InteractionLog(user=user, item=item, timestamp=ts, source=str(path))


def read_seqfile(path: str | Path) -> InteractionLog:
    """Pre-sequenced file, one line per user: ``user_id item_id item_id ...``, items in time order.

    The timestamp of an interaction is its position (0, 1, 2, ...) in its line. This is the format
    of the FMLP-Rec / ICLRec preprocessed Amazon files, e.g. ``Beauty.txt`` from
    https://github.com/salesforce/ICLRec (``data/Beauty.txt``).
    """
    path = Path(path)
    bulk, line_ok = _SEQFILE
    values, counts = _int_table(
        path,
        _read_bytes(path),
        bulk=bulk,
        line_ok=line_ok,
        expected="a user id followed by one or more item ids, all integers",
    )
    line_start = np.concatenate(([0], np.cumsum(counts[:-1])))
    is_item = np.ones(values.size, dtype=bool)
    is_item[line_start] = False
    n_items = counts - 1
    user = np.repeat(values[line_start], n_items)
    item = values[is_item]
    first_item = np.concatenate(([0], np.cumsum(n_items[:-1])))
    position = np.arange(item.size, dtype=np.int64) - np.repeat(first_item, n_items)
    return InteractionLog(user=user, item=item, timestamp=position, source=str(path))


_RETAILROCKET_HEADER = b"timestamp,visitorid,event,itemid,transactionid"
_RETAILROCKET_EVENTS = {b"view": 1, b"addtocart": 2, b"transaction": 3}
# ",view," -> ",1   ,": replacements of equal length keep bytes.replace a single cheap pass
_RETAILROCKET_CODES = [
    (b"," + word + b",", (b",%d" % code).ljust(len(word) + 1) + b",")
    for word, code in _RETAILROCKET_EVENTS.items()
]
_COMMA_TO_SPACE = bytes.maketrans(b",", b" ")


def _retailrocket_bulk(text: bytes) -> tuple[np.ndarray | None, np.ndarray]:
    """Vectorised parse of events.csv data lines; values (4 or 5 per line) or None if malformed.

    Each line must have exactly 4 commas, no whitespace, no empty field but the last
    (transactionid), and one of the three event words as its third field and nowhere else.
    """
    if any(bad in text for bad in (b" ", b"\t", b"\r", b",,", b"\n,")) or text.startswith(b","):
        return None, np.zeros(0, dtype=np.int64)
    longest = max(map(len, _RETAILROCKET_EVENTS))
    original = np.frombuffer(text + bytes(longest + 1), dtype=np.uint8)  # padded for the checks
    n_events = 0
    for word, code in _RETAILROCKET_CODES:
        n_events += text.count(word)
        text = text.replace(word, code)
    values, counts, starts = _bulk_parse(text.translate(_COMMA_TO_SPACE), 4, 5)
    if values is None or counts.size == 0:
        return values, counts
    if n_events != counts.size or text.count(b",") != 4 * counts.size:
        return None, counts
    # the replacements keep every byte offset, so the third token of each line must be an event
    # word (with its comma) in the original text; with one word per line, there is none elsewhere
    third = starts[np.concatenate(([0], np.cumsum(counts[:-1]))) + 2]
    first_byte = original[third]
    for word in _RETAILROCKET_EVENTS:
        at = third[first_byte == word[0]]
        for k, char in enumerate(word + b","):
            if not np.all(original[at + k] == char):
                return None, counts
    if not np.isin(first_byte, list(b"vat")).all():
        return None, counts
    return values, counts


def _retailrocket_line_ok(raw: bytes) -> bool:
    if not raw:
        return True
    if len(raw.split()) != 1:  # whitespace inside a line (or a line of spaces)
        return False
    fields = raw.split(b",")
    if len(fields) != 5 or fields[2] not in _RETAILROCKET_EVENTS:
        return False
    numbers = [fields[0], fields[1], fields[3]] + ([fields[4]] if fields[4] else [])
    return _ints_ok(numbers, 1, None)


def read_retailrocket(path: str | Path) -> InteractionLog:
    """RetailRocket ``events.csv`` (header ``timestamp,visitorid,event,itemid,transactionid``).

    Keeps only ``view`` events; timestamps are converted from milliseconds to seconds.
    Source: https://www.kaggle.com/datasets/retailrocket/ecommerce-dataset (needs a Kaggle login).
    """
    path = Path(path)
    data = _read_bytes(path).replace(b"\r\n", b"\n")
    if data.startswith(b"\xef\xbb\xbf"):  # UTF-8 byte-order mark
        data = data[3:]
    header, _, body = data.partition(b"\n")
    if not header.strip() and not body.strip():
        raise _no_interactions(path)
    if header.strip() != _RETAILROCKET_HEADER:
        raise DataFormatError(
            f"{path}:1: expected the header {_RETAILROCKET_HEADER.decode()!r}, got {_shown(header)}"
        )
    values, counts = _int_table(
        path,
        body,
        bulk=_retailrocket_bulk,
        line_ok=_retailrocket_line_ok,
        expected="'timestamp,visitorid,event,itemid,transactionid' with integer ids and event "
        "view/addtocart/transaction",
        first_lineno=2,
    )
    start = np.concatenate(([0], np.cumsum(counts[:-1])))  # first value of each line
    start = start[values[start + 2] == _RETAILROCKET_EVENTS[b"view"]]
    if start.size == 0:
        raise DataFormatError(f"{path}: no interactions (no 'view' events)")
    return InteractionLog(
        user=values[start + 1],
        item=values[start + 3],
        timestamp=values[start] // 1000,
        source=str(path),
    )


# --------------------------------------------------------------------------------------------------
# string formats (Python loops)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_amazon_csv(path: str | Path, user_first: bool = False) -> InteractionLog:
    """Amazon ratings-only CSV ``item,user,rating,timestamp`` (no header), ids kept as strings.

    That is the 2018 release's layout (https://nijianmo.github.io/amazon/, "ratings only"). The
    2014 SNAP files (http://snap.stanford.edu/data/amazon/productGraph/categoryFiles/ratings_<Category>.csv,
    e.g. ``A39HTATAQ9V7YF,0205616461,5.0,1369699200``) put the user first: pass ``user_first=True``
    (``ssr data prepare --user-first``). A header line (non-numeric rating and timestamp) is skipped.
    """
    path = Path(path)
    text = _read_bytes(path).decode("utf-8", errors="replace")
    users: list[str] = []
    items: list[str] = []
    times: list[int] = []
    layout = "user,item,rating,timestamp" if user_first else "item,user,rating,timestamp"
    expected = f"4 comma-separated fields '{layout}' (integer timestamp)"
    rows = csv.reader(io.StringIO(text, newline=""))
    for row in rows:
        lineno = rows.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) == 4:
            first, second, rating, stamp = (field.strip() for field in row)
            user, item = (first, second) if user_first else (second, first)
            if lineno == 1 and not _is_number(rating) and not _is_number(stamp):
                continue  # header
            if user and item and _is_number(rating):
                try:
                    times.append(int(stamp))
                except ValueError:
                    pass
                else:
                    users.append(user)
                    items.append(item)
                    continue
        raise DataFormatError(f"{path}:{lineno}: expected {expected}, got {_shown(','.join(row))}")
    if not users:
        raise _no_interactions(path)
    return InteractionLog(
        user=np.array(users, dtype=str),
        item=np.array(items, dtype=str),
        timestamp=np.array(times, dtype=np.int64),
        source=str(path),
    )


def _text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, line) of a text file that may be gzip-compressed."""
    if not path.exists():
        raise DataFileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise DataFormatError(f"{path}: is a directory; pass the data file itself")
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    raw = gzip.open(path, "rb") if gzipped else path.open("rb")
    with raw, io.TextIOWrapper(raw, encoding="utf-8", errors="replace") as handle:
        try:
            yield from enumerate(handle, start=1)
        except (OSError, EOFError) as exc:  # truncated or corrupt gzip stream
            raise DataFormatError(f"{path}: cannot decompress ({exc})") from exc


_EPOCH_DAY = _dt.date(1970, 1, 1)


def read_steam(path: str | Path) -> InteractionLog:
    """Steam reviews ``steam_reviews.json.gz``: one Python dict literal per line (gzip or plain).

    user = ``user_id`` if present else ``username``; item = ``product_id``; timestamp = ``date``
    (``YYYY-MM-DD``) as unix seconds at UTC midnight. Lines are parsed with ``ast.literal_eval``,
    which accepts literals only and never runs code. Source:
    https://cseweb.ucsd.edu/~wckang/steam_reviews.json.gz (Kang & McAuley, SASRec, ICDM 2018).
    """
    path = Path(path)
    users: list[str] = []
    items: list[str] = []
    times: list[int] = []
    day_cache: dict[str, int] = {}
    for lineno, line in _text_lines(path):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            row = ast.literal_eval(line.strip())
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
            reason = type(exc).__name__
            raise DataFormatError(
                f"{where}: expected a Python dict literal, got {_shown(line)} ({reason})"
            ) from None
        if not isinstance(row, dict):
            raise DataFormatError(f"{where}: expected a Python dict literal, got {_shown(line)}")
        user = row.get("user_id", row.get("username"))
        item = row.get("product_id")
        date = row.get("date")
        if user is None or item is None or not isinstance(date, str):
            raise DataFormatError(
                f"{where}: expected keys 'user_id' or 'username', 'product_id' and 'date', "
                f"got {_shown(line)}"
            )
        seconds = day_cache.get(date)
        if seconds is None:
            try:
                day = _dt.date.fromisoformat(date)
            except ValueError:
                raise DataFormatError(
                    f"{where}: expected 'date' as YYYY-MM-DD, got {date[:_LINE_SHOWN]!r}"
                ) from None
            seconds = day_cache[date] = (day - _EPOCH_DAY).days * 86400
        users.append(str(user))
        items.append(str(item))
        times.append(seconds)
    if not users:
        raise _no_interactions(path)
    return InteractionLog(
        user=np.array(users, dtype=str),
        item=np.array(items, dtype=str),
        timestamp=np.array(times, dtype=np.int64),
        source=str(path),
    )


# --------------------------------------------------------------------------------------------------
# registry


READERS: dict[str, Callable[[Path], InteractionLog]] = {
    "ml-100k": read_ml100k,
    "ml-1m": read_ml1m,
    "amazon-csv": read_amazon_csv,
    "seqfile": read_seqfile,
    "steam": read_steam,
    "retailrocket": read_retailrocket,
}

# how to obtain a missing file for each reader (`ssr data fetch` names live in ssr.data.fetch)
_HOW_TO_GET = {
    "ml-100k": "get it with `ssr data fetch ml-100k`",
    "ml-1m": "get it with `ssr data fetch ml-1m`",
    "amazon-csv": "get it with `ssr data fetch amazon-<category>` (e.g. amazon-beauty)",
    "seqfile": "pass a pre-sequenced file such as Beauty.txt from the ICLRec repository",
    "steam": "get it with `ssr data fetch steam`",
    "retailrocket": "see `ssr data fetch retailrocket` (it must be downloaded by hand from Kaggle)",
}


def read_log(name: str, path: str | Path, **options: bool) -> InteractionLog:
    """Read ``path`` with the reader registered as ``name`` (a key of :data:`READERS`); ``options``
    go to readers that take them (``user_first`` for amazon-csv)."""
    reader = READERS.get(name)
    if reader is None:
        raise ValueError(f"unknown dataset format {name!r}; valid names: {', '.join(READERS)}")
    path = Path(path)
    if not path.exists():
        raise DataFileNotFoundError(f"{path}: no such file; {_HOW_TO_GET[name]}")
    return reader(path, **options)
