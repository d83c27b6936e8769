"""Import-time compatibility shims for lava-nc 0.10 / lava-dl 0.6; site-packages is never edited.

1. On Python 3.11+, ``import lava.magma.compiler.var_model`` fails with ``ValueError: mutable
   default <class '...ByteEncoder'> for field x is not allowed``: 3.11 rejects dataclass defaults
   whose class has ``__hash__ is None``, and ``ByteEncoder`` is an eq=True dataclass. While a
   ``lava.*`` module executes, ``dataclasses.dataclass`` is swapped for a wrapper that first gives
   such lava-defined default classes an identity hash.
2. ``lava.lib.dl.slayer`` (so also ``lava.lib.dl.netx``) imports ``torchvision`` for its
   ``object_detection`` subpackage. torchvision is not installed, so a placeholder sits in
   ``sys.modules`` only while slayer is imported; actually using it raises ImportError.

3. ``lava.magma.runtime.message_infrastructure.multiprocessing`` calls
   ``multiprocessing.set_start_method('fork')`` at import, which raises "context has already been
   set" in any process that has used multiprocessing before (a test run, a notebook). While that
   module executes, a request for the method already in force is a no-op; any other still raises.

All are done by a ``sys.meta_path`` finder that wraps the loaders of ``lava`` / ``lava.*`` only.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.abc
import importlib.machinery
import importlib.util
import multiprocessing
import sys
import threading
import types
from typing import Any, Sequence

_PATCH_DATACLASS = sys.version_info >= (3, 11)
_SLAYER = "lava.lib.dl.slayer"
_LAVA_MP = "lava.magma.runtime.message_infrastructure.multiprocessing"
_TV_NAMES = ("torchvision", "torchvision.ops", "torchvision.transforms")
_MARKER = "_ssr_lava_compat"

_lock = threading.Lock()
_depth = 0
_real_dataclass = dataclasses.dataclass


def _is_lava(name: str) -> bool:
    return name == "lava" or name.startswith("lava.")


def _hash_lava_defaults(cls: type) -> None:
    """Give unhashable lava-defined classes used as field defaults of ``cls`` an identity hash."""
    for name in cls.__dict__.get("__annotations__", {}):
        default = cls.__dict__.get(name)
        if isinstance(default, dataclasses.Field):
            default = default.default
        kind = type(default)
        if kind.__hash__ is None and _is_lava(getattr(kind, "__module__", "") or ""):
            kind.__hash__ = object.__hash__  # type: ignore[method-assign]


@functools.wraps(_real_dataclass)
def _lava_dataclass(cls: type | None = None, /, **kwargs: Any) -> Any:
    """``dataclasses.dataclass`` that first makes lava-class field defaults hashable."""
    def wrap(c: type) -> type:
        _hash_lava_defaults(c)
        return _real_dataclass(c, **kwargs)

    return wrap if cls is None else wrap(cls)


def _stub(owner: str, attr: str) -> Any:
    if attr.startswith("__"):  # keep dunder probes (copy, pickle, inspect, import) honest
        raise AttributeError(attr)
    return _Unavailable(f"{owner}.{attr}")


class _Unavailable:
    """Stands in for any torchvision attribute; fails clearly once it is actually used."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return _stub(self._name, attr)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise ImportError(
            f"{self._name} needs torchvision, which is not installed; lava-dl's "
            "slayer.object_detection is unsupported in this environment."
        )


class _PlaceholderModule(types.ModuleType):
    def __getattr__(self, attr: str) -> Any:
        return _stub(self.__name__, attr)


def _add_torchvision_placeholder() -> list[str]:
    """Put placeholder torchvision modules in sys.modules unless a real torchvision exists."""
    if "torchvision" in sys.modules or importlib.util.find_spec("torchvision") is not None:
        return []
    for name in _TV_NAMES:
        mod = sys.modules[name] = _PlaceholderModule(name)
        mod.__spec__ = importlib.machinery.ModuleSpec(name, None)
        if "." in name:
            setattr(sys.modules["torchvision"], name.split(".", 1)[1], mod)
    return list(_TV_NAMES)


def _tolerant_set_start_method(method: str | None, force: bool = False) -> None:
    """``multiprocessing.set_start_method`` that accepts re-setting the method already in force."""
    if not force and multiprocessing.get_start_method(allow_none=True) == method:
        return
    _real_set_start_method(method, force=force)


_real_set_start_method = multiprocessing.set_start_method


class _CompatLoader:
    """Wraps a lava module's loader; patches ``dataclasses.dataclass`` while it executes."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def __getattr__(self, attr: str) -> Any:  # get_source, is_package, get_resource_reader, ...
        return getattr(self._loader, attr)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        global _depth
        placeholders = _add_torchvision_placeholder() if module.__name__ == _SLAYER else []
        if module.__name__ == _LAVA_MP:
            multiprocessing.set_start_method = _tolerant_set_start_method
        with _lock:
            _depth += 1
            if _PATCH_DATACLASS:
                dataclasses.dataclass = _lava_dataclass
        try:
            self._loader.exec_module(module)
        finally:
            with _lock:
                _depth -= 1
                if _depth == 0:
                    dataclasses.dataclass = _real_dataclass
            for name in placeholders:
                if isinstance(sys.modules.get(name), _PlaceholderModule):
                    del sys.modules[name]
            if module.__name__ == _LAVA_MP:
                multiprocessing.set_start_method = _real_set_start_method


class _LavaCompatFinder(importlib.abc.MetaPathFinder):
    """Finds ``lava`` / ``lava.*`` specs with the other finders and wraps their loaders."""

    _ssr_lava_compat = True

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not _is_lava(fullname):
            return None
        for finder in sys.meta_path:
            if getattr(finder, _MARKER, False) or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _CompatLoader(spec.loader)
                return spec
        return None


def is_installed() -> bool:
    """Whether the lava compatibility finder is on ``sys.meta_path``."""
    return any(getattr(f, _MARKER, False) for f in sys.meta_path)


def install() -> None:
    """Insert the lava compatibility finder at the front of ``sys.meta_path`` (idempotent)."""
    if not is_installed():
        sys.meta_path.insert(0, _LavaCompatFinder())


def import_lava() -> None:
    """Install the shims and import ``lava.magma.core.run_configs``."""
    install()
    importlib.import_module("lava.magma.core.run_configs")
