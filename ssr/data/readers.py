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


def _tokens_per_line(buf: bytes) -> np.ndarray:
    """Number of whitespace-separated tokens on each ``\\n``-separated line of ``buf`` (vectorised).

    The result has one entry per line, including the (possibly empty) piece after the last newline.
    """
    b = np.frombuffer(buf, dtype=np.uint8)
    # np.fromstring separates on C isspace (\t \n \v \f \r, space); other control bytes counted
    # as separators here make the counts disagree with the parse, so they are reported, not lost
    ws = b <= 32
    start = ~ws
    start[1:] &= ws[:-1]  # a token starts at a non-space byte that follows a space (or the start)
    starts = np.flatnonzero(start)
    newlines = np.flatnonzero(b == 10)
    before = np.searchsorted(starts, newlines)  # token starts before each newline
    bounds = np.concatenate(([0], before, [len(starts)]))
    return np.diff(bounds)


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


def _line_ok(tokens: list[bytes], ncols: int | None) -> bool:
    if ncols is None:  # seqfile: a user and at least one item
        if len(tokens) < 2:
            return False
    elif len(tokens) != ncols:
        return False
    for tok in tokens:
        if not _INT_TOKEN.fullmatch(tok) or not _INT64.min < int(tok) < _INT64.max:
            return False
    return True


def _bulk_parse(text: bytes, ncols: int | None) -> tuple[np.ndarray | None, np.ndarray]:
    """(values, token count of each non-blank line); values is None if a line is malformed."""
    counts = _tokens_per_line(text)
    counts = counts[counts > 0]
    if counts.size == 0:  # (np.fromstring reads a whitespace-only text as [0])
        return np.zeros(0, dtype=np.int64), counts
    values = _parse_ints(text)
    shape_ok = bool(np.all(counts >= 2)) if ncols is None else bool(np.all(counts == ncols))
    if values is None or not shape_ok or values.size != counts.sum():
        return None, counts
    return values, counts


def _first_bad_line(
    body: bytes, transform: Callable[[bytes], bytes], ncols: int | None
) -> tuple[int, bytes] | None:
    """(0-based index, raw line) of the first non-blank line that fails to parse, or None.

    Blocks of lines are checked in bulk first; only the first failing block is read line by line.
    """
    lines = body.split(b"\n")
    for first in range(0, len(lines), _SLOW_CHUNK):
        block = lines[first : first + _SLOW_CHUNK]
        if _bulk_parse(transform(b"\n".join(block) + b"\n"), ncols)[0] is not None:
            continue
        for index, raw in enumerate(block, start=first):
            tokens = transform(raw + b"\n").split()
            if tokens and not _line_ok(tokens, ncols):
                return index, raw
    return None


def _int_table(
    path: Path,
    body: bytes,
    *,
    ncols: int | None,
    expected: str,
    transform: Callable[[bytes], bytes] = lambda text: text,
    first_lineno: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Parse ``body`` (lines of integers once ``transform`` has turned separators into spaces).

    Returns ``(values, counts)``: every integer in file order and the token count of each non-blank
    line. ``ncols`` is the required count per line (None: two or more). Raises DataFormatError
    ``"{path}:{lineno}: expected {expected}, got {line!r}"`` for the first malformed line.
    """
    if body and not body.endswith(b"\n"):
        body += b"\n"
    values, counts = _bulk_parse(transform(body), ncols)
    if values is None:
        bad = _first_bad_line(body, transform, ncols)
        if bad is None:  # cannot happen unless the two passes disagree; still fail loudly
            raise DataFormatError(f"{path}: expected {expected} on every line")
        index, raw = bad
        raise DataFormatError(
            f"{path}:{index + first_lineno}: expected {expected}, got {_shown(raw)}"
        )
    if values.size == 0:
        raise _no_interactions(path)
    return values, counts


def _columns(values: np.ndarray, ncols: int, *cols: int) -> list[np.ndarray]:
    table = values.reshape(-1, ncols)
    return [np.ascontiguousarray(table[:, c]) for c in cols]


# --------------------------------------------------------------------------------------------------
# numeric formats (vectorised)


def read_ml100k(path: str | Path) -> InteractionLog:
    """MovieLens 100K ``u.data``: ``user<TAB>item<TAB>rating<TAB>unix_timestamp`` per line.

    Source: https://files.grouplens.org/datasets/movielens/ml-100k.zip (member ``ml-100k/u.data``).
    """
    path = Path(path)
    values, _ = _int_table(
        path,
        _read_bytes(path),
        ncols=4,
        expected="4 tab-separated integers 'user item rating timestamp'",
    )
    user, item, ts = _columns(values, 4, 0, 1, 3)
    return InteractionLog(user=user, item=item, timestamp=ts, source=str(path))


def _ml1m_transform(text: bytes) -> bytes:
    # a lone ':' is left in place so that it makes its token non-numeric
    return text.replace(b"::", b" ")


def read_ml1m(path: str | Path) -> InteractionLog:
    """MovieLens 1M ``ratings.dat``: ``UserID::MovieID::Rating::Timestamp`` per line.

    Source: https://files.grouplens.org/datasets/movielens/ml-1m.zip (member ``ml-1m/ratings.dat``).
    """
    path = Path(path)
    values, _ = _int_table(
        path,
        _read_bytes(path),
        ncols=4,
        expected="4 '::'-separated integers 'UserID::MovieID::Rating::Timestamp'",
        transform=_ml1m_transform,
    )
    user, item, ts = _columns(values, 4, 0, 1, 3)
    return InteractionLog(user=user, item=item, timestamp=ts, source=str(path))


def read_seqfile(path: str | Path) -> InteractionLog:
    """Pre-sequenced file, one line per user: ``user_id item_id item_id ...``, items in time order.

    The timestamp of an interaction is its position (0, 1, 2, ...) in its line. This is the format
    of the FMLP-Rec / ICLRec preprocessed Amazon files, e.g. ``Beauty.txt`` from
    https://github.com/salesforce/ICLRec (``data/Beauty.txt``).
    """
    path = Path(path)
    values, counts = _int_table(
        path,
        _read_bytes(path),
        ncols=None,
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


def _retailrocket_transform(text: bytes) -> bytes:
    for name, code in _RETAILROCKET_EVENTS.items():
        text = text.replace(b"," + name + b",", b",%d," % code)
    # an empty transactionid (every non-transaction event) becomes -1 so each line has 5 numbers
    return text.replace(b",\n", b",-1\n").replace(b",", b" ")


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
    if not body.strip():
        raise _no_interactions(path)
    values, _ = _int_table(
        path,
        body,
        ncols=5,
        expected="'timestamp,visitorid,event,itemid,transactionid' with integer ids and event "
        "view/addtocart/transaction",
        transform=_retailrocket_transform,
        first_lineno=2,
    )
    table = values.reshape(-1, 5)
    views = table[table[:, 2] == _RETAILROCKET_EVENTS[b"view"]]
    if len(views) == 0:
        raise DataFormatError(f"{path}: no interactions (no 'view' events)")
    return InteractionLog(
        user=np.ascontiguousarray(views[:, 1]),
        item=np.ascontiguousarray(views[:, 3]),
        timestamp=views[:, 0] // 1000,
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


def read_amazon_csv(path: str | Path) -> InteractionLog:
    """Amazon ratings-only CSV ``user,item,rating,timestamp`` (no header), ids kept as strings.

    E.g. ``A39HTATAQ9V7YF,0205616461,5.0,1369699200``: the reviewer id comes first, the product
    ASIN second. A header line (non-numeric rating and timestamp, as in Kaggle re-uploads) is
    skipped. Source: http://snap.stanford.edu/data/amazon/productGraph/categoryFiles/ratings_Beauty.csv
    (other categories: ``ratings_<Category>.csv``).
    """
    path = Path(path)
    text = _read_bytes(path).decode("utf-8", errors="replace")
    users: list[str] = []
    items: list[str] = []
    times: list[int] = []
    expected = "4 comma-separated fields 'user,item,rating,timestamp' (integer timestamp)"
    for lineno, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) == 4:
            user, item, rating, stamp = (field.strip() for field in row)
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


def read_log(name: str, path: str | Path) -> InteractionLog:
    """Read ``path`` with the reader registered as ``name`` (a key of :data:`READERS`)."""
    reader = READERS.get(name)
    if reader is None:
        raise ValueError(f"unknown dataset format {name!r}; valid names: {', '.join(READERS)}")
    path = Path(path)
    if not path.exists():
        raise DataFileNotFoundError(f"{path}: no such file; {_HOW_TO_GET[name]}")
    return reader(path)
