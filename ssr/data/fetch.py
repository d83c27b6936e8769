"""Download the public datasets into a folder, verified and written atomically.

:data:`SOURCES` lists where each dataset comes from, which file :func:`fetch` produces (the file
that ``ssr data prepare --path`` expects) and which reader in :data:`ssr.data.readers.READERS`
reads it. Only the ``ml-100k`` checksum is pinned: it was measured from a real copy of the file.
The other checksums have not been measured, so they are None; after downloading one of those,
:func:`fetch` prints the sha256 it computed so that it can be pinned here.
"""

from __future__ import annotations


import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ssr.io import file_sha256

__all__ = ["AMAZON_CATEGORIES", "SOURCES", "FetchError", "Source", "fetch", "get_source"]

_CHUNK = 1 << 16


class FetchError(OSError):
    """A dataset could not be downloaded or verified; the one-line message says what to do."""


@dataclass(frozen=True)
class Source:
    """Where a dataset comes from and which file :func:`fetch` leaves in the destination folder.

    url:            the download address, or None where it must be downloaded by hand
    filename:       the data file produced in the destination folder (what readers take)
    archive_member: the path of that file inside the downloaded zip, or None if not a zip
    sha256:         hex digest of the final data file, or None where we have not measured it
    reader:         the name of the reader in ssr.data.readers.READERS that reads the file
    manual:         a one-line instruction for downloading the file by hand
    prepare_flags:  extra `ssr data prepare` flags this file needs (e.g. --user-first)
    """

    url: str | None
    filename: str
    archive_member: str | None
    sha256: str | None
    reader: str
    manual: str
    prepare_flags: tuple[str, ...] = ()


_AMAZON_URL = "http://snap.stanford.edu/data/amazon/productGraph/categoryFiles/ratings_{}.csv"

# `amazon-<key>` -> the category in SNAP's `ratings_<Category>.csv` file names
AMAZON_CATEGORIES: dict[str, str] = {
    "beauty": "Beauty",
    "sports": "Sports_and_Outdoors",
    "toys": "Toys_and_Games",
    "books": "Books",
}


def _amazon(category: str) -> Source:
    url = _AMAZON_URL.format(category)
    return Source(
        url=url,
        filename=f"ratings_{category}.csv",
        archive_member=None,
        sha256=None,
        reader="amazon-csv",
        manual=f"download {url}",
        prepare_flags=("--user-first",),  # SNAP's 2014 files are user,item,rating,timestamp
    )


_ML100K_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
_ML1M_URL = "https://files.grouplens.org/datasets/movielens/ml-1m.zip"
_STEAM_URL = "https://cseweb.ucsd.edu/~wckang/steam_reviews.json.gz"
_RETAILROCKET_URL = "https://www.kaggle.com/datasets/retailrocket/ecommerce-dataset"

SOURCES: dict[str, Source] = {
    "ml-100k": Source(
        url=_ML100K_URL,
        filename="u.data",
        archive_member="ml-100k/u.data",
        # measured (sha256sum) from the GroupLens ml-100k u.data kept in the shared data folder
        # (100,000 rows, 943 users, 1,682 items); the only checksum pinned here.
        sha256="06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
        reader="ml-100k",
        manual=f"download {_ML100K_URL} and extract ml-100k/u.data from it",
    ),
    "ml-1m": Source(
        url=_ML1M_URL,
        filename="ratings.dat",
        archive_member="ml-1m/ratings.dat",
        sha256=None,  # not measured
        reader="ml-1m",
        manual=f"download {_ML1M_URL} and extract ml-1m/ratings.dat from it",
    ),
    **{f"amazon-{key}": _amazon(category) for key, category in AMAZON_CATEGORIES.items()},
    "steam": Source(
        url=_STEAM_URL,
        filename="steam_reviews.json.gz",
        archive_member=None,
        sha256=None,  # not measured
        reader="steam",
        manual=f"download {_STEAM_URL}",
    ),
    "retailrocket": Source(
        url=None,  # Kaggle needs a login: no direct download address
        filename="events.csv",
        archive_member=None,
        sha256=None,
        reader="retailrocket",
        manual=f"download events.csv from {_RETAILROCKET_URL} (needs a Kaggle login)",
    ),
}


def get_source(name: str, sources: Mapping[str, Source] | None = None) -> Source:
    """The :class:`Source` called ``name``; ValueError listing the valid names if there is none."""
    table = SOURCES if sources is None else sources
    if name in table:
        return table[name]
    if name.startswith("amazon-"):
        known = ", ".join(f"amazon-{key} ({cat})" for key, cat in AMAZON_CATEGORIES.items())
        raise ValueError(f"unknown Amazon category {name!r}; known: {known}")
    raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(table)}")


def _by_hand(src: Source, final: Path) -> str:
    if src.archive_member:
        member = src.archive_member
        return f"download it by hand, extract {member} from the zip and place it at {final}"
    return f"download it by hand and place {src.filename} at {final}"


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _download(
    name: str, src: Source, target: Path, *, timeout: float, progress: bool, final: Path
) -> None:
    """Stream ``src.url`` into ``target``; FetchError with the by-hand instruction on failure."""
    assert src.url is not None
    request = urllib.request.Request(src.url, headers={"User-Agent": "ssr-toolkit"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            received = 0
            with (
                target.open("wb") as out,
                tqdm(
                    total=total,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=src.filename,
                    disable=not progress,
                ) as bar,
            ):
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            if total is not None and received != total:
                raise http.client.IncompleteRead(b"", total - received)
    except urllib.error.HTTPError as exc:
        reason = f"HTTP {exc.code} {exc.reason}"
    except urllib.error.URLError as exc:
        reason = str(exc.reason)
    except TimeoutError:
        reason = f"timed out after {timeout:g} s"
    except http.client.IncompleteRead as exc:
        reason = f"connection closed with {exc.expected} bytes still to come"
    except (ConnectionError, http.client.HTTPException) as exc:
        reason = f"{type(exc).__name__}: {exc}"
    else:
        return
    raise FetchError(
        _one_line(f"cannot download {name} from {src.url} ({reason}); {_by_hand(src, final)}")
    ) from None


def _extract(name: str, src: Source, archive: Path, target: Path, final: Path) -> None:
    assert src.archive_member is not None
    try:
        with (
            zipfile.ZipFile(archive) as zf,
            zf.open(src.archive_member) as member,
            target.open("wb") as out,
        ):
            while chunk := member.read(_CHUNK):
                out.write(chunk)
    except KeyError:
        raise FetchError(
            f"the {name} archive from {src.url} has no member {src.archive_member}; "
            f"{_by_hand(src, final)}"
        ) from None
    except zipfile.BadZipFile as exc:
        raise FetchError(
            _one_line(
                f"the {name} download from {src.url} is not a valid zip ({exc}); "
                f"{_by_hand(src, final)}"
            )
        ) from None


def _temp_path(dest_dir: Path, filename: str, suffix: str) -> Path:
    fd, name = tempfile.mkstemp(dir=dest_dir, prefix=f".{filename}.", suffix=suffix)
    os.close(fd)
    return Path(name)


def fetch(
    name: str,
    dest_dir: str | Path,
    *,
    timeout: float = 30,
    progress: bool | None = None,
    sources: Mapping[str, Source] | None = None,
) -> Path:
    """Download dataset ``name`` into ``dest_dir`` and return the path of its data file.

    A data file already in ``dest_dir`` is reused without touching the network when it matches
    the pinned checksum or when no checksum is pinned. Otherwise the file is downloaded to a
    temporary file in ``dest_dir``, extracted from its zip if it is one, checked against the
    pinned sha256 and moved into place with ``os.replace``, so a failure never leaves a partial
    file behind. Only ``ml-100k`` has a pinned checksum (measured from the GroupLens file); for the
    others we have not measured one, and the sha256 of the download is printed so it can be pinned.

    progress: show a progress bar (default: when stderr is a terminal).
    sources:  a table to use instead of :data:`SOURCES` (tests, mirrors).
    Raises FetchError (one line, with how to download the file by hand) on network errors,
    checksum mismatches and datasets that must be downloaded by hand (retailrocket).
    """
    src = get_source(name, sources)
    dest_dir = Path(dest_dir)
    final = dest_dir / src.filename
    if final.is_file():
        if src.sha256 is None:
            return final
        actual = file_sha256(final)
        if actual == src.sha256:
            return final
        print(
            f"{final} does not match the pinned sha256 (expected {src.sha256}, got {actual}); "
            "downloading it again",
            file=sys.stderr,
        )
    if src.url is None:
        raise FetchError(
            f"cannot download {name} automatically; {src.manual} and place it at {final}"
        )
    if progress is None:
        progress = sys.stderr.isatty()
    dest_dir.mkdir(parents=True, exist_ok=True)
    temps: list[Path] = []
    try:
        download = _temp_path(dest_dir, src.filename, ".download")
        temps.append(download)
        _download(name, src, download, timeout=timeout, progress=progress, final=final)
        data = download
        if src.archive_member is not None:
            data = _temp_path(dest_dir, src.filename, ".part")
            temps.append(data)
            _extract(name, src, download, data, final)
        actual = file_sha256(data)
        if src.sha256 is not None and actual != src.sha256:
            raise FetchError(
                f"checksum mismatch for {name} from {src.url}: expected sha256 {src.sha256}, "
                f"got {actual}; the download was deleted ({_by_hand(src, final)})"
            )
        os.chmod(data, 0o644)
        os.replace(data, final)
    finally:
        for temp in temps:
            temp.unlink(missing_ok=True)
    if src.sha256 is None:
        print(
            f"{name}: sha256 {actual} of {final} (not pinned: add it to ssr.data.fetch.SOURCES "
            "to verify later downloads)",
            file=sys.stderr,
        )
    return final
