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
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ssr.data.int_table import bulk_parse, check_data_file, ints_ok, LINE_SHOWN, columns, int_format, int_table, no_interactions, read_bytes, shown
from ssr.data.log import DataFileNotFoundError, DataFormatError, InteractionLog

__all__ = [
    "READERS",
    "DataFileNotFoundError",
    "read_amazon_csv",
    "read_log",
    "read_ml1m",
    "read_ml100k",
    "read_recbole_inter",
    "read_retailrocket",
    "read_sasrec",
    "read_seqfile",
    "read_steam",
]




# --------------------------------------------------------------------------------------------------
# numeric formats (vectorised)

_ML100K = int_format(4, 4)
_USER_ITEM = int_format(2, 2)
_ML1M = int_format(4, 4, lambda text: text.replace(b"::", b" "))  # a lone ':' stays, and fails
_SEQFILE = int_format(2, None)


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
    values, _ = int_table(path, read_bytes(path), bulk=bulk, line_ok=line_ok, expected=expected)
    user, item, ts = columns(values, 4, 0, 1, 3)
    return InteractionLog(user=user, item=item, timestamp=ts, source=str(path))


def read_seqfile(path: str | Path) -> InteractionLog:
    """Pre-sequenced file, one line per user: ``user_id item_id item_id ...``, items in time order.

    The timestamp of an interaction is its position (0, 1, 2, ...) in its line. This is the format
    of the FMLP-Rec / ICLRec preprocessed Amazon files, e.g. ``Beauty.txt`` from
    https://github.com/salesforce/ICLRec (``data/Beauty.txt``).
    """
    path = Path(path)
    bulk, line_ok = _SEQFILE
    values, counts = int_table(
        path,
        read_bytes(path),
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


def read_sasrec(path: str | Path) -> InteractionLog:
    """SASRec's preprocessed files (e.g. ``Video.txt``, ``Beauty.txt`` of Kang & McAuley's repository):
    ``user_id item_id`` per line, one interaction a line, each user's lines in time order. The
    timestamp of an interaction is its line number (the file's order is the time order).
    """
    path = Path(path)
    bulk, line_ok = _USER_ITEM
    values, _ = int_table(path, read_bytes(path), bulk=bulk, line_ok=line_ok,
                          expected="2 integers 'user_id item_id'")
    user, item = columns(values, 2, 0, 1)
    return InteractionLog(user=user, item=item, timestamp=np.arange(len(user), dtype=np.int64), source=str(path))


INTER_HEADER = "user_id:token\titem_id_list:token_seq\titem_id:token"


def read_recbole_inter(path: str | Path) -> InteractionLog:
    """The RecBole / UniSRec benchmark files ``NAME.{train,valid,test}.inter``: tab-separated,
    header ``user_id:token  item_id_list:token_seq  item_id:token``; a row is a user's history
    (space-separated items, oldest first) and the next item. ``path`` is ``NAME.test.inter`` (or any
    of the three): the test file holds every user's whole sequence (history + last item), and the
    given leave-one-out split is kept: ``valid`` must be each sequence without its last item and
    ``train`` its earlier prefixes (checked; prepare it with ``--split loo``). Timestamps are the
    positions in the sequence.
    """
    path = Path(path)
    given = _inter_rows(path)  # the file named first: an empty or malformed one is reported as itself
    files = inter_files(path)
    rows = {part: given if file == path else _inter_rows(file) for part, file in files.items()}
    sequences = {user: history + [target] for user, (history, target, _) in rows["test"].items()}
    for user, (history, target, lineno) in rows["valid"].items():
        if sequences.get(user, [])[:-1] != history + [target]:
            raise DataFormatError(f"{files['valid']}:{lineno}: user {user}'s validation sequence is not its test "
                                  "sequence without the last item; pass the three files of one split")
    missing = sorted(set(sequences) - set(rows["valid"]))
    if missing:
        raise DataFormatError(f"{files['valid']}: no row for user(s) {', '.join(missing[:5])} of the test file")
    for user, (history, target, lineno) in rows["train"].items():
        full = sequences.get(user)
        if full is None or full[:len(history) + 1] != history + [target] or len(history) + 1 > len(full) - 2:
            raise DataFormatError(f"{files['train']}:{lineno}: user {user}'s training row is not a prefix of its "
                                  "sequence before the validation item")
    users = [user for user, sequence in sequences.items() for _ in sequence]
    items = [item for sequence in sequences.values() for item in sequence]
    times = [position for sequence in sequences.values() for position in range(len(sequence))]
    return _string_log(path, users, items, times)


def inter_files(path: str | Path) -> dict[str, Path]:
    """{"train", "valid", "test"} -> the three .inter files of the split `path` (one of them) belongs to."""
    path = Path(path)
    stem = path.name.rsplit(".", 2)[0] if path.name.endswith(".inter") else path.name
    return {part: path.with_name(f"{stem}.{part}.inter") for part in ("train", "valid", "test")}


def _inter_rows(path: Path) -> dict[str, tuple[list[str], str, int]]:
    """user -> (history, target, line number) of one .inter file; for the train file, which lists
    a user several times, the longest row."""
    rows: dict[str, tuple[list[str], str, int]] = {}
    header_seen = False
    for lineno, line in _text_lines(path):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        if not header_seen:
            if line != INTER_HEADER:
                raise DataFormatError(f"{path}:{lineno}: expected the header {INTER_HEADER!r}, got {shown(line)}")
            header_seen = True
            continue
        fields = line.split("\t")
        if len(fields) != 3 or not fields[0] or not fields[1].split() or not fields[2] or " " in fields[2]:
            raise DataFormatError(f"{path}:{lineno}: expected 'user<TAB>item item ...<TAB>item', got {shown(line)}")
        user, history, target = fields[0], fields[1].split(), fields[2]
        if user not in rows or len(history) > len(rows[user][0]):
            rows[user] = (history, target, lineno)
    if not rows:
        raise no_interactions(path)
    return rows


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
    values, counts, starts = bulk_parse(text.translate(_COMMA_TO_SPACE), 4, 5)
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
    return ints_ok(numbers, 1, None)


def read_retailrocket(path: str | Path) -> InteractionLog:
    """RetailRocket ``events.csv`` (header ``timestamp,visitorid,event,itemid,transactionid``).

    Keeps only ``view`` events; timestamps are converted from milliseconds to seconds.
    Source: https://www.kaggle.com/datasets/retailrocket/ecommerce-dataset (needs a Kaggle login).
    """
    path = Path(path)
    data = read_bytes(path).replace(b"\r\n", b"\n")
    header, _, body = data.partition(b"\n")
    if not header.strip() and not body.strip():
        raise no_interactions(path)
    if header.strip() != _RETAILROCKET_HEADER:
        raise DataFormatError(
            f"{path}:1: expected the header {_RETAILROCKET_HEADER.decode()!r}, got {shown(header)}"
        )
    values, counts = int_table(
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
    text = read_bytes(path).decode("utf-8", errors="replace")
    users: list[str] = []
    items: list[str] = []
    times: list[int] = []
    layout = "user,item,rating,timestamp" if user_first else "item,user,rating,timestamp"
    expected = f"4 comma-separated fields '{layout}' (integer timestamp)"
    rows = csv.reader(io.StringIO(text, newline=""))
    last_line = 0
    for row in rows:
        lineno, last_line = last_line + 1, rows.line_num  # the row's first line: a quote may span lines
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if any("\n" in field or "\r" in field for field in row):
            raise DataFormatError(f"{path}:{lineno}: a quote opened on this line is not closed on it; expected "
                                  f"{expected}")
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
        raise DataFormatError(f"{path}:{lineno}: expected {expected}, got {shown(','.join(row))}")
    return _string_log(path, users, items, times)


def _string_log(path: Path, users: list[str], items: list[str], times: list[int]) -> InteractionLog:
    """The log of a string-keyed reader; an empty one is an error."""
    if not users:
        raise no_interactions(path)
    return InteractionLog(user=np.array(users, dtype=str), item=np.array(items, dtype=str),
                          timestamp=np.array(times, dtype=np.int64), source=str(path))


def _text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, line) of a text file that may be gzip-compressed."""
    check_data_file(path)
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    raw = gzip.open(path, "rb") if gzipped else path.open("rb")
    with raw, io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace") as handle:
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
                f"{where}: expected a Python dict literal, got {shown(line)} ({reason})"
            ) from None
        if not isinstance(row, dict):
            raise DataFormatError(f"{where}: expected a Python dict literal, got {shown(line)}")
        user = row.get("user_id", row.get("username"))
        item = row.get("product_id")
        date = row.get("date")
        if user is None or item is None or not isinstance(date, str):
            raise DataFormatError(
                f"{where}: expected keys 'user_id' or 'username', 'product_id' and 'date', "
                f"got {shown(line)}"
            )
        seconds = day_cache.get(date)
        if seconds is None:
            try:
                day = _dt.date.fromisoformat(date)
            except ValueError:
                raise DataFormatError(
                    f"{where}: expected 'date' as YYYY-MM-DD, got {date[:LINE_SHOWN]!r}"
                ) from None
            seconds = day_cache[date] = (day - _EPOCH_DAY).days * 86400
        users.append(str(user))
        items.append(str(item))
        times.append(seconds)
    return _string_log(path, users, items, times)


# --------------------------------------------------------------------------------------------------
# registry


READERS: dict[str, Callable[[Path], InteractionLog]] = {
    "ml-100k": read_ml100k,
    "ml-1m": read_ml1m,
    "amazon-csv": read_amazon_csv,
    "seqfile": read_seqfile,
    "sasrec": read_sasrec,
    "recbole-inter": read_recbole_inter,
    "steam": read_steam,
    "retailrocket": read_retailrocket,
}

# how to obtain a missing file for each reader (`ssr data fetch` names live in ssr.data.fetch)
_HOW_TO_GET = {
    "ml-100k": "get it with `ssr data fetch ml-100k`",
    "ml-1m": "get it with `ssr data fetch ml-1m`",
    "amazon-csv": "get it with `ssr data fetch amazon-<category>` (e.g. amazon-beauty)",
    "seqfile": "pass a pre-sequenced file such as Beauty.txt from the ICLRec repository",
    "sasrec": "pass a 'user item' per-line file such as Video.txt from the SASRec repository",
    "recbole-inter": "pass NAME.test.inter with NAME.train.inter and NAME.valid.inter beside it",
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
