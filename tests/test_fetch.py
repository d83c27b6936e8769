"""Dataset download: served from a local HTTP server on 127.0.0.1, never from the network."""

from __future__ import annotations

import functools
import hashlib
import http.server
import socket
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ssr.data.fetch import SOURCES, FetchError, Source, fetch, get_source
from ssr.data.readers import READERS, read_log

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
UDATA = b"196\t242\t3\t881250949\n186\t302\t3\t891717742\n"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, served folder) of an HTTP server on 127.0.0.1 serving a temporary folder."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/x"


def make_zip(path: Path, member: str, data: bytes) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ml-100k/README", "readme")
        zf.writestr(member, data)


def zip_source(url: str, digest: str | None) -> Source:
    return Source(
        url=url,
        filename="u.data",
        archive_member="ml-100k/u.data",
        sha256=digest,
        reader="ml-100k",
        manual="download the zip and extract ml-100k/u.data from it",
    )


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_zip_download_verified(server: tuple[str, Path], tmp_path: Path) -> None:
    base, root = server
    make_zip(root / "ml-100k.zip", "ml-100k/u.data", UDATA)
    dest = tmp_path / "data" / "ml-100k"
    sources = {"ml-100k": zip_source(f"{base}/ml-100k.zip", sha(UDATA))}
    path = fetch("ml-100k", dest, progress=False, sources=sources)
    assert path == dest / "u.data"
    assert path.read_bytes() == UDATA
    assert files_in(dest) == ["u.data"]  # no temporary files left
    log = read_log(sources["ml-100k"].reader, path)
    assert log.user.tolist() == [196, 186]


def test_plain_download_prints_checksum(
    server: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, root = server
    data = b"A39HTATAQ9V7YF,0205616461,5.0,1369699200\n"
    (root / "ratings_Beauty.csv").write_bytes(data)
    source = Source(
        url=f"{base}/ratings_Beauty.csv",
        filename="ratings_Beauty.csv",
        archive_member=None,
        sha256=None,
        reader="amazon-csv",
        manual="download it",
    )
    path = fetch("amazon-beauty", tmp_path, progress=True, sources={"amazon-beauty": source})
    assert path.read_bytes() == data
    assert sha(data) in capsys.readouterr().err
    assert files_in(tmp_path) == ["ratings_Beauty.csv", "served"]


def test_checksum_mismatch_leaves_nothing(server: tuple[str, Path], tmp_path: Path) -> None:
    base, root = server
    make_zip(root / "ml-100k.zip", "ml-100k/u.data", UDATA)
    dest = tmp_path / "dest"
    wrong = "0" * 64
    sources = {"ml-100k": zip_source(f"{base}/ml-100k.zip", wrong)}
    with pytest.raises(FetchError) as info:
        fetch("ml-100k", dest, progress=False, sources=sources)
    message = str(info.value)
    assert wrong in message and sha(UDATA) in message and "\n" not in message
    assert files_in(dest) == []


def test_unreachable_url(tmp_path: Path) -> None:
    url = closed_port_url()
    dest = tmp_path / "dest"
    with pytest.raises(FetchError) as info:
        fetch(
            "ml-100k", dest, timeout=5, progress=False, sources={"ml-100k": zip_source(url, None)}
        )
    message = str(info.value)
    assert message.startswith(f"cannot download ml-100k from {url} (")
    assert "by hand" in message and "ml-100k/u.data" in message and str(dest / "u.data") in message
    assert "\n" not in message
    assert files_in(dest) == []


class TruncatingHandler(http.server.BaseHTTPRequestHandler):
    """Promises 1000 bytes and sends 10, then closes the connection."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b"0123456789")
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_truncated_download_leaves_nothing(tmp_path: Path) -> None:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TruncatingHandler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/ml-100k.zip"
        sources = {"ml-100k": zip_source(url, None)}
        with pytest.raises(FetchError, match="cannot download ml-100k") as info:
            fetch("ml-100k", tmp_path / "dest", timeout=5, progress=False, sources=sources)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
    assert "\n" not in str(info.value)
    assert files_in(tmp_path / "dest") == []


def test_http_error(server: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = server
    sources = {"ml-100k": zip_source(f"{base}/missing.zip", None)}
    with pytest.raises(FetchError, match=r"\(HTTP 404 .*by hand"):
        fetch("ml-100k", tmp_path / "dest", progress=False, sources=sources)
    assert files_in(tmp_path / "dest") == []


def test_archive_without_member(server: tuple[str, Path], tmp_path: Path) -> None:
    base, root = server
    make_zip(root / "ml-100k.zip", "other/u.data", UDATA)
    sources = {"ml-100k": zip_source(f"{base}/ml-100k.zip", None)}
    with pytest.raises(FetchError, match="has no member ml-100k/u.data"):
        fetch("ml-100k", tmp_path / "dest", progress=False, sources=sources)
    assert files_in(tmp_path / "dest") == []


def test_not_a_zip(server: tuple[str, Path], tmp_path: Path) -> None:
    base, root = server
    (root / "ml-100k.zip").write_bytes(b"<html>not a zip</html>")
    sources = {"ml-100k": zip_source(f"{base}/ml-100k.zip", None)}
    with pytest.raises(FetchError, match="not a valid zip"):
        fetch("ml-100k", tmp_path / "dest", progress=False, sources=sources)
    assert files_in(tmp_path / "dest") == []


@pytest.mark.parametrize("pinned", [True, False])
def test_present_file_is_reused_offline(tmp_path: Path, pinned: bool) -> None:
    (tmp_path / "u.data").write_bytes(UDATA)
    sources = {"ml-100k": zip_source(closed_port_url(), sha(UDATA) if pinned else None)}
    assert fetch("ml-100k", tmp_path, progress=False, sources=sources) == tmp_path / "u.data"
    assert (tmp_path / "u.data").read_bytes() == UDATA


def test_present_file_with_wrong_checksum_is_replaced(
    server: tuple[str, Path], tmp_path: Path
) -> None:
    base, root = server
    make_zip(root / "ml-100k.zip", "ml-100k/u.data", UDATA)
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "u.data").write_bytes(b"stale\n")
    sources = {"ml-100k": zip_source(f"{base}/ml-100k.zip", sha(UDATA))}
    assert fetch("ml-100k", dest, progress=False, sources=sources).read_bytes() == UDATA
    assert files_in(dest) == ["u.data"]


def test_retailrocket_needs_manual_download(tmp_path: Path) -> None:
    with pytest.raises(FetchError) as info:
        fetch("retailrocket", tmp_path, progress=False)
    message = str(info.value)
    assert "https://www.kaggle.com/datasets/retailrocket/ecommerce-dataset" in message
    assert "events.csv" in message and str(tmp_path / "events.csv") in message
    assert "\n" not in message
    assert files_in(tmp_path) == []


def test_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown dataset") as info:
        get_source("netflix")
    assert all(name in str(info.value) for name in SOURCES)
    with pytest.raises(ValueError, match="amazon-beauty") as info:
        fetch("amazon-garden", Path("unused"))
    assert "unknown Amazon category" in str(info.value)


def test_sources_table() -> None:
    assert {"ml-100k", "ml-1m", "amazon-beauty", "steam", "retailrocket"} <= set(SOURCES)
    assert SOURCES["amazon-sports"].url.endswith("/ratings_Sports_and_Outdoors.csv")
    assert SOURCES["amazon-beauty"].url == (
        "http://snap.stanford.edu/data/amazon/productGraph/categoryFiles/ratings_Beauty.csv"
    )
    assert SOURCES["ml-100k"].archive_member == "ml-100k/u.data"
    assert SOURCES["ml-1m"].archive_member == "ml-1m/ratings.dat"
    assert SOURCES["retailrocket"].url is None
    for name, source in SOURCES.items():
        assert source.reader in READERS, name
        assert source.manual and "\n" not in source.manual
    pinned = [name for name, source in SOURCES.items() if source.sha256 is not None]
    assert pinned == ["ml-100k"]  # only checksums measured from real files are pinned


@pytest.mark.shared_data
def test_ml100k_checksum_matches_real_file() -> None:
    path = SHARED / "ml-100k" / "u.data"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    assert sha(path.read_bytes()) == SOURCES["ml-100k"].sha256
