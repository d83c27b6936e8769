"""Atomic file output: every file ssr writes appears whole or not at all (a set of files: all of
them or none), and never over one of the command's inputs."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


def check_name_length(path: Path) -> None:
    """OSError naming the limit when `path`'s file name is longer than its folder's file system takes."""
    limit = os.pathconf(path.parent, "PC_NAME_MAX") if path.parent.is_dir() else 255
    if len(os.fsencode(path.name)) > limit:
        raise OSError(f"cannot write {path.parent / (path.name[:40] + '...')}: the name is "
                      f"{len(os.fsencode(path.name))} bytes, more than this file system's {limit}; choose a shorter name")


def _temp_beside(path: Path, tag: str = "") -> Path:
    """A new empty temp file in `path`'s folder with a normal file's mode; its name is short (a
    prefix of `path`'s name), so any name the folder accepts can be written."""
    check_name_length(path)
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {path}: it is a directory; name a file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:32]}{tag}.", suffix=".tmp")
    except OSError as error:
        raise OSError(f"cannot write {path}: {error.strerror or error}; choose a writable location") from None
    os.close(handle)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temp_name, 0o666 & ~umask)  # mkstemp makes 0600; give the file a normal file's mode
    return Path(temp_name)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path beside `path`; on success rename it onto `path`, on error delete it."""
    with atomic_paths([path]) as (temp,):
        yield temp


@contextlib.contextmanager
def atomic_paths(paths: Iterable[str | Path]) -> Iterator[list[Path]]:
    """Yield one temp path per target; on success all targets are replaced together, on any error
    (also a failed rename half-way) none is: files already there are put back as they were."""
    targets = [Path(p) for p in paths]
    temps: list[Path] = []
    try:
        for target in targets:
            temps.append(_temp_beside(target))
        yield temps
        _replace_all(temps, targets)
    finally:
        for temp in temps:
            temp.unlink(missing_ok=True)


def _replace_all(temps: list[Path], targets: list[Path]) -> None:
    """Rename every temp onto its target, or leave every target as it was."""
    backups: dict[Path, Path] = {}  # target -> its earlier content, moved aside
    done: list[Path] = []
    try:
        for target in targets:
            if target.exists():
                backup = _temp_beside(target, ".old")
                os.replace(target, backup)
                backups[target] = backup
        for temp, target in zip(temps, targets):
            os.replace(temp, target)
            done.append(target)
    except BaseException:
        for target in done:
            target.unlink(missing_ok=True)
        for target, backup in backups.items():
            os.replace(backup, target)
        raise
    for backup in backups.values():
        backup.unlink(missing_ok=True)


def refuse_overwriting_inputs(outputs: Iterable[str | Path | None], inputs: Iterable[str | Path | None],
                              option: str = "--out") -> None:
    """ValueError when an output path names one of the command's input files (by path or, for
    existing files, by identity: hard links and symlinks count)."""
    existing_inputs = [Path(p) for p in inputs if p is not None]
    for output in (Path(p) for p in outputs if p is not None):
        check_name_length(output)
        for source in existing_inputs:
            same = output.resolve() == source.resolve()
            if not same and output.exists() and source.exists():
                same = os.path.samefile(output, source)
            if same:
                raise ValueError(f"{option} {output} would overwrite the input {source}; choose another output path")


def write_json(path: str | Path, data: Any) -> None:
    with atomic_path(path) as temp:
        temp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
