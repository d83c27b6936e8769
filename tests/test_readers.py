"""Readers of the raw dataset files: exact parses of small hand-written files, errors, real data."""

from __future__ import annotations

import calendar
import gzip
from pathlib import Path

import numpy as np
import pytest

from ssr.data import int_table
from ssr.data.log import DataFormatError, InteractionLog
from ssr.data.readers import (
    READERS,
    read_amazon_csv,
    read_log,
    read_ml1m,
    read_ml100k,
    read_retailrocket,
    read_seqfile,
    read_steam,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def check(log: InteractionLog, user: list, item: list, timestamp: list[int]) -> None:
    assert log.user.tolist() == user
    assert log.item.tolist() == item
    assert log.timestamp.tolist() == timestamp
    assert log.timestamp.dtype == np.int64


def test_registry_names() -> None:
    assert set(READERS) == {"ml-100k", "ml-1m", "amazon-csv", "seqfile", "sasrec", "recbole-inter", "steam",
                            "retailrocket"}


# ------------------------------------------------------------------------------------------------
# well-formed files


def test_ml100k(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "u.data",
        "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n\n\n",
    )
    log = read_ml100k(path)
    check(log, [196, 186, 22], [242, 302, 377], [881250949, 891717742, 878887116])
    assert log.user.dtype == np.int64 and log.item.dtype == np.int64
    assert log.source == str(path)


def test_ml100k_crlf_and_no_final_newline(tmp_path: Path) -> None:
    path = write(tmp_path, "u.data", "1\t2\t5\t100\r\n3\t4\t1\t200")
    check(read_ml100k(path), [1, 3], [2, 4], [100, 200])


def test_ml1m_double_colon(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "ratings.dat",
        "1::1193::5::978300760\n1::661::3::978302109\n6040::3068::4::956703932\n",
    )
    check(read_ml1m(path), [1, 1, 6040], [1193, 661, 3068], [978300760, 978302109, 956703932])


def test_amazon_item_first_is_the_default(tmp_path: Path) -> None:
    """The issue's contract: amazon-csv is item,user,rating,timestamp (the 2018 release)."""
    path = write(tmp_path, "All_Beauty.csv", "0205616461,A39HTATAQ9V7YF,5.0,1369699200\n")
    check(read_amazon_csv(path), ["A39HTATAQ9V7YF"], ["0205616461"], [1369699200])


def test_amazon_user_first_string_ids(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "ratings_Beauty.csv",
        "A39HTATAQ9V7YF,0205616461,5.0,1369699200\n"
        "A3JM6GV9MNOF9X,0558925278,3.0,1355443200\n"
        "A1Z513UWSAAO0F,0558925278,5.0,1404691200\n",
    )
    log = read_amazon_csv(path, user_first=True)
    check(
        log,
        ["A39HTATAQ9V7YF", "A3JM6GV9MNOF9X", "A1Z513UWSAAO0F"],
        ["0205616461", "0558925278", "0558925278"],  # leading zero kept: ids are strings
        [1369699200, 1355443200, 1404691200],
    )
    assert log.user.dtype.kind == "U" and log.item.dtype.kind == "U"


def test_amazon_header_line_is_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", "UserId,ProductId,Rating,Timestamp\nU1,0001,4.0,1000\n")
    check(read_amazon_csv(path, user_first=True), ["U1"], ["0001"], [1000])


def test_seqfile_positions_are_timestamps(tmp_path: Path) -> None:
    path = write(tmp_path, "Beauty.txt", "1 5 6 7\n2 8\n\n3 5 9 \n")
    check(read_seqfile(path), [1, 1, 1, 2, 3, 3], [5, 6, 7, 8, 5, 9], [0, 1, 2, 0, 0, 1])


STEAM_LINES = [
    "{'username': 'Chaos Syren', 'hours': 0.1, 'products': 41, 'product_id': '725280', "
    "'page_order': 0, 'date': '2017-12-17', 'text': \"It's a quote: don't\", "
    "'early_access': False, 'page': 1}",
    "{'username': 'ahlens', 'user_id': '76561198011965365', 'product_id': '328100', "
    "'date': '2017-10-16', 'text': 'he said \"wow\"', 'early_access': True, 'page': 1}",
]
# 2017-12-17 and 2017-10-16 at 00:00 UTC
STEAM_TIMES = [1513468800, 1508112000]


def test_steam_expected_times_oracle() -> None:
    assert STEAM_TIMES == [
        calendar.timegm((2017, 12, 17, 0, 0, 0)),
        calendar.timegm((2017, 10, 16, 0, 0, 0)),
    ]


@pytest.mark.parametrize("compressed", [True, False])
def test_steam_literal_lines(tmp_path: Path, compressed: bool) -> None:
    data = ("\n".join(STEAM_LINES) + "\n").encode()
    path = tmp_path / "steam_reviews.json.gz"
    path.write_bytes(gzip.compress(data) if compressed else data)
    log = read_steam(path)
    # user_id wins over username when both are present
    check(log, ["Chaos Syren", "76561198011965365"], ["725280", "328100"], STEAM_TIMES)


def test_steam_never_executes_code(tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    path = write(
        tmp_path,
        "steam.json",
        STEAM_LINES[0] + "\n" + f"__import__('pathlib').Path({str(marker)!r}).touch()\n",
    )
    with pytest.raises(DataFormatError, match=r"steam\.json:2: "):
        read_steam(path)
    assert not marker.exists()
    path = write(tmp_path, "steam2.json", "__import__('os').system('echo hi')\n")
    with pytest.raises(DataFormatError, match=r"steam2\.json:1: "):
        read_steam(path)


@pytest.mark.parametrize(
    ("line", "what"),
    [
        ("[1, 2, 3]", "dict literal"),
        ("{'username': 'a', 'date': '2017-01-01'}", "product_id"),
        ("{'username': 'a', 'product_id': '1', 'date': '17/01/2017'}", "YYYY-MM-DD"),
        ("{'username': 'a', 'product_id': '1', 'date': '2017-01-01'", "dict literal"),
    ],
)
def test_steam_bad_lines(tmp_path: Path, line: str, what: str) -> None:
    path = write(tmp_path, "steam.json", STEAM_LINES[0] + "\n\n" + line + "\n")
    with pytest.raises(DataFormatError, match=r"steam\.json:3: ") as info:
        read_steam(path)
    assert what in str(info.value)


RETAILROCKET = (
    "timestamp,visitorid,event,itemid,transactionid\n"
    "1433221332117,257597,view,355908,\n"
    "1433224214164,992329,addtocart,248676,\n"
    "1433221999827,111016,transaction,318965,4000\n"
    "1433221955914,483717,view,253185,\n"
)


def test_retailrocket_views_only_in_seconds(tmp_path: Path) -> None:
    path = write(tmp_path, "events.csv", RETAILROCKET)
    check(read_retailrocket(path), [257597, 483717], [355908, 253185], [1433221332, 1433221955])


def test_retailrocket_crlf(tmp_path: Path) -> None:
    path = write(tmp_path, "events.csv", RETAILROCKET.replace("\n", "\r\n"))
    check(read_retailrocket(path), [257597, 483717], [355908, 253185], [1433221332, 1433221955])


def test_retailrocket_wrong_header(tmp_path: Path) -> None:
    path = write(tmp_path, "events.csv", "ts,visitor,event,item,tx\n1,2,view,3,\n")
    with pytest.raises(DataFormatError, match=r"events\.csv:1: expected the header"):
        read_retailrocket(path)


def test_retailrocket_header_only(tmp_path: Path) -> None:
    path = write(tmp_path, "events.csv", RETAILROCKET.splitlines()[0] + "\n")
    with pytest.raises(DataFormatError, match="no interactions"):
        read_retailrocket(path)


def test_retailrocket_without_views(tmp_path: Path) -> None:
    path = write(tmp_path, "events.csv", RETAILROCKET.splitlines()[0] + "\n1000,1,addtocart,2,\n")
    with pytest.raises(DataFormatError, match="no interactions"):
        read_retailrocket(path)


# ------------------------------------------------------------------------------------------------
# malformed files


MALFORMED = [
    ("ml-100k", "u.data", "1\t2\t3\t4\n5\t6\t7\n", 2),  # too few columns
    ("ml-100k", "u.data", "1\t2\t3\t4\n5\t6\t7\t8\t9\n", 2),  # too many columns
    ("ml-100k", "u.data", "1\t2\t3\t4\n\n1\t2\t3.5\t4\n", 3),  # not an integer
    ("ml-100k", "u.data", "1\t2\t3\t4\n1\tx\t3\t4\n1\t2\t3\t4\n", 2),
    ("ml-100k", "u.data", "1\t2\t3\t4-5\n", 1),  # two numbers glued together
    ("ml-100k", "u.data", "1\t2\t3\t4\n1\t2\t3-4\tx\n", 2),
    ("ml-100k", "u.data", "1\t2\t3\t99999999999999999999\n", 1),  # out of int64 range
    ("ml-1m", "ratings.dat", "1::2::3::4\n1::2::3\n", 2),
    ("ml-1m", "ratings.dat", "1::2::3::4\n1:2::3::4\n", 2),  # a lone ':'
    ("ml-1m", "ratings.dat", "1::2::3::4\n1::2::3::4.0\n", 2),
    ("seqfile", "Beauty.txt", "1 2 3\n2\n3 4\n", 2),  # a user without items
    ("seqfile", "Beauty.txt", "1 2 3\n2 4 five\n", 2),
    ("amazon-csv", "r.csv", "A,0001,5.0,1000\nB,0002,5.0\n", 2),
    ("amazon-csv", "r.csv", "A,0001,5.0,1000\nB,0002,5.0,yesterday\n", 2),
    ("amazon-csv", "r.csv", "A,0001,5.0,1000\n\nB,0002,good,1000\n", 3),
    ("retailrocket", "events.csv", RETAILROCKET + "1433221955914,483717,click,253185,\n", 6),
    ("retailrocket", "events.csv", RETAILROCKET + "1433221955914,483717,view,253185\n", 6),
    ("retailrocket", "events.csv", RETAILROCKET + "1433221955914,,view,253185,\n", 6),
    ("retailrocket", "events.csv", RETAILROCKET + "1433221955914,483717,1,253185,\n", 6),
    ("retailrocket", "events.csv", RETAILROCKET + "1433221955914,483717,view,,5\n", 6),
    ("retailrocket", "events.csv", RETAILROCKET + "1433221955914,483717,view,253185,,\n", 6),
    ("retailrocket", "events.csv", RETAILROCKET + "1433221955914, 483717,view,253185,\n", 6),
    ("retailrocket", "events.csv", RETAILROCKET + "1433221955914,483717,view,3.5,\n", 6),
    ("retailrocket", "events.csv", RETAILROCKET + "  \n1,2,view,3,\n", 6),
    ("retailrocket", "events.csv", RETAILROCKET + "1,2,view,3,\n1,2,t,3,\n", 7),
    ("retailrocket", "events.csv", RETAILROCKET + "1,2,views,3,\n", 6),
    # two event words on one line and a numeric event on another: the counts balance
    (
        "retailrocket",
        "events.csv",
        RETAILROCKET + "1433221955914,483717,2,253185,\n1,view,2,view,\n",
        6,
    ),
]


@pytest.mark.parametrize(("name", "filename", "text", "lineno"), MALFORMED)
def test_malformed_line_is_named(
    tmp_path: Path, name: str, filename: str, text: str, lineno: int
) -> None:
    path = write(tmp_path, filename, text)
    with pytest.raises(DataFormatError) as info:
        READERS[name](path)
    message = str(info.value)
    assert message.startswith(f"{path}:{lineno}: expected ")
    assert filename in message
    assert "\n" not in message


def test_malformed_message_exact(tmp_path: Path) -> None:
    path = write(tmp_path, "u.data", "1\t2\t3\t4\n5\t6\t7\n")
    with pytest.raises(DataFormatError) as info:
        read_ml100k(path)
    assert str(info.value) == (
        f"{path}:2: expected 4 tab-separated integers 'user item rating timestamp', got '5\\t6\\t7'"
    )


def test_long_bad_line_is_truncated(tmp_path: Path) -> None:
    path = write(tmp_path, "u.data", "1\t2\t3\t4\n" + "9" * 5000 + "x\n")
    with pytest.raises(DataFormatError) as info:
        read_ml100k(path)
    message = str(info.value)
    assert ":2: " in message and len(message) < len(str(path)) + 250 and "\n" not in message


@pytest.mark.parametrize("name", sorted(READERS))
@pytest.mark.parametrize("text", ["", "\n \n\n"])
def test_empty_file(tmp_path: Path, name: str, text: str) -> None:
    path = write(tmp_path, "empty.txt", text)
    with pytest.raises(DataFormatError, match="no interactions"):
        read_log(name, path)


def test_unknown_dataset(tmp_path: Path) -> None:
    path = write(tmp_path, "u.data", "1\t2\t3\t4\n")
    with pytest.raises(ValueError, match="unknown dataset") as info:
        read_log("netflix", path)
    assert all(name in str(info.value) for name in READERS)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "u.data"
    with pytest.raises(FileNotFoundError) as info:
        read_log("ml-100k", path)
    message = str(info.value)
    assert str(path) in message and "ssr data fetch ml-100k" in message and "\n" not in message
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_steam(path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_ml100k(path)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="directory"):
        read_log("seqfile", tmp_path)


def test_read_log_dispatches(tmp_path: Path) -> None:
    path = write(tmp_path, "ratings.dat", "7::8::5::9\n")
    check(read_log("ml-1m", path), [7], [8], [9])


def test_parsing_in_small_blocks_gives_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large files are parsed in blocks of lines; tiny blocks must change nothing."""
    files = {
        "ml-100k": write(tmp_path, "u.data", "1\t2\t3\t4\n\n5\t6\t7\t8\n9\t10\t11\t12\n"),
        "ml-1m": write(tmp_path, "ratings.dat", "1::2::3::4\n5::6::7::8\n"),
        "seqfile": write(tmp_path, "seq.txt", "1 5 6 7\n2 8\n3 5 9\n4 1 2 3 4 5 6\n"),
        "retailrocket": write(tmp_path, "events.csv", RETAILROCKET),
    }
    expected = {name: read_log(name, path) for name, path in files.items()}
    monkeypatch.setattr(int_table, "_BLOCK_BYTES", 5)
    monkeypatch.setattr(int_table, "_SLOW_CHUNK", 2)
    for name, path in files.items():
        log = read_log(name, path)
        check(
            log,
            expected[name].user.tolist(),
            expected[name].item.tolist(),
            expected[name].timestamp.tolist(),
        )
    bad = write(tmp_path, "bad.txt", "1 2\n3 4\n5 6\n7\n8 9\n")
    with pytest.raises(DataFormatError, match=r"bad\.txt:4: "):
        read_seqfile(bad)


# ------------------------------------------------------------------------------------------------
# larger and real files


def test_generated_200k_lines(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 200_000
    table = np.stack(
        [
            rng.integers(1, 10**6, n),
            rng.integers(1, 10**6, n),
            rng.integers(1, 6, n),
            rng.integers(8 * 10**8, 2 * 10**9, n),
        ],
        axis=1,
    )
    lines = ["\t".join(map(str, row)) for row in table.tolist()]
    path = write(tmp_path, "u.data", "\n".join(lines) + "\n")
    log = read_ml100k(path)
    np.testing.assert_array_equal(log.user, table[:, 0])
    np.testing.assert_array_equal(log.item, table[:, 1])
    np.testing.assert_array_equal(log.timestamp, table[:, 3])
    # a bad line deep in a large file is named exactly
    lines[123_456] = lines[123_456].replace("\t", " x ", 1)
    path = write(tmp_path, "u.data", "\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=r"u\.data:123457: expected 4 tab-separated"):
        read_ml100k(path)


@pytest.mark.shared_data
def test_real_ml100k() -> None:
    path = SHARED / "ml-100k" / "u.data"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    log = read_log("ml-100k", path)
    assert len(log) == 100_000
    assert len(np.unique(log.user)) == 943
    assert len(np.unique(log.item)) == 1682
    assert log.user[0] == 196 and log.item[0] == 242 and log.timestamp[0] == 881250949


@pytest.mark.shared_data
def test_real_beauty() -> None:
    path = SHARED / "amazon-beauty" / "Beauty.txt"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    log = read_log("seqfile", path)
    assert len(log) == 198_502
    assert len(np.unique(log.user)) == 22_363
    assert len(np.unique(log.item)) == 12_101
    # first line: "1 1 2 3 4 5"
    assert log.user[:6].tolist() == [1, 1, 1, 1, 1, 2]
    assert log.item[:5].tolist() == [1, 2, 3, 4, 5]
    assert log.timestamp[:6].tolist() == [0, 1, 2, 3, 4, 0]
