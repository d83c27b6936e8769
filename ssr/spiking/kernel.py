"""Loads the fused C++ LIF kernel (lif_kernel.cpp), compiled on first use and cached by torch.

Needs a C++ compiler and ninja (pinned in requirements/). Where either is missing, or with
SSR_LIF_KERNEL=torch, `load()` returns None and ssr.spiking.lif uses its pure-torch loop, which
computes bit-identical spikes, only slower.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from types import ModuleType

_SOURCE = Path(__file__).with_name("lif_kernel.cpp")
_loaded: ModuleType | None = None
_failed = False


def load() -> ModuleType | None:
    """The compiled kernel module, or None where it cannot be built (warns once)."""
    global _loaded, _failed
    if _loaded is not None or _failed or os.environ.get("SSR_LIF_KERNEL") == "torch":
        return _loaded
    try:
        from torch.utils.cpp_extension import load as load_extension

        # the venv's ninja, even when the venv is not activated
        os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        # -ffp-contract=off: no fused multiply-add, so the charge rounds exactly as torch's ops do
        _loaded = load_extension("ssr_lif_kernel", [str(_SOURCE)], verbose=False,
                                 extra_cflags=["-O3", "-ffp-contract=off"])
    except Exception as error:  # no compiler, no ninja, a build error: fall back, don't fail
        _failed = True
        warnings.warn(f"ssr: fused LIF kernel unavailable ({str(error).splitlines()[0][:120]}); "
                      "using the slower pure-torch LIF", RuntimeWarning, stacklevel=2)
    return _loaded
