"""Tests for ssr.targets.loihi_sim.lava_compat.

Installing the finder is process-global and other tests may already have imported lava, so every
import-based check runs in a fresh interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

NEEDS_311 = pytest.mark.skipif(sys.version_info < (3, 11), reason="3.11+ dataclass check")


def _run(
    code: str, *, install: bool = True, env_path: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter, after ``lava_compat.install()`` unless told not to."""
    prefix = f"import sys; sys.path.insert(0, {str(env_path)!r})\n" if env_path else ""
    if install:
        prefix += "from ssr.targets.loihi_sim import lava_compat\nlava_compat.install()\n"
    return subprocess.run(
        [sys.executable, "-c", prefix + textwrap.dedent(code)],
        capture_output=True, text=True, timeout=120,
    )


def _ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@NEEDS_311
def test_lava_var_model_fails_without_compat() -> None:
    proc = _run("import lava.magma.compiler.var_model", install=False)
    assert proc.returncode != 0
    assert "ValueError" in proc.stderr and "mutable default" in proc.stderr
    assert "ByteEncoder" in proc.stderr


def test_install_fixes_lava_but_not_other_dataclasses() -> None:
    out = _ok(_run("""
        import dataclasses
        from lava.magma.compiler.var_model import ByteEncoder, CoreEncoder
        print("hash", isinstance(hash(ByteEncoder()), int), CoreEncoder().x == ByteEncoder())

        @dataclasses.dataclass
        class Inner:
            a: int = 0

        try:
            @dataclasses.dataclass
            class Outer:
                x: Inner = Inner()
        except ValueError:
            print("non-lava raised")
    """))
    assert "hash True True" in out
    if sys.version_info >= (3, 11):
        assert "non-lava raised" in out


@NEEDS_311
def test_patch_is_scoped_to_lava_module_execution(tmp_path: Path) -> None:
    # `lava` is a namespace package, so extra `lava.*` modules can live in tmp_path.
    (tmp_path / "lava").mkdir()
    (tmp_path / "lava" / "ssr_probe_ok.py").write_text(textwrap.dedent("""
        import dataclasses

        @dataclasses.dataclass
        class Enc:
            n: int = 0

        @dataclasses.dataclass
        class Holder:
            e: Enc = Enc()

        import ssr_probe_plain  # non-lava module imported while a lava module executes
    """))
    (tmp_path / "ssr_probe_plain.py").write_text(textwrap.dedent("""
        import dataclasses

        @dataclasses.dataclass
        class Enc:
            n: int = 0

        try:
            @dataclasses.dataclass
            class Holder:
                e: Enc = Enc()
            RAISED = False
        except ValueError:
            RAISED = True
    """))
    (tmp_path / "lava" / "ssr_probe_boom.py").write_text("raise RuntimeError('boom')\n")
    out = _ok(_run("""
        import dataclasses
        real = dataclasses.dataclass
        import lava.ssr_probe_ok as ok, ssr_probe_plain as plain
        print("lava ok", ok.Holder().e == ok.Enc(), "plain raised", plain.RAISED)
        try:
            import lava.ssr_probe_boom
        except RuntimeError:
            print("restored", dataclasses.dataclass is real)
    """, env_path=tmp_path))
    assert "lava ok True plain raised True" in out
    assert "restored True" in out


def _hand_lif(u0, v0, du, dv, vth, bias, steps):
    """Lava's floating-point LIF (a_in = 0): decay u, integrate v, spike if v > vth, reset v."""
    u, v = np.array(u0, float), np.array(v0, float)
    vs, ss = [], []
    for _ in range(steps):
        u = u * (1 - du)
        v = v * (1 - dv) + u + bias
        s = v > vth
        v = np.where(s, 0.0, v)
        vs.append(v.copy())
        ss.append(s.astype(float))
    return np.array(vs), np.array(ss)


def test_lif_run_matches_hand_recurrence() -> None:
    u0, v0, du, dv, vth, bias, steps = [0.0, 0.5, -0.2], [0.0, 0.1, 0.0], 0.1, 0.2, 1.0, [
        0.15, 0.3, 0.45], 10
    out = _ok(_run(f"""
        import json
        import numpy as np
        from lava.magma.core.run_conditions import RunSteps
        from lava.magma.core.run_configs import Loihi2SimCfg
        from lava.proc.lif.process import LIF
        from lava.proc.monitor.process import Monitor

        lif = LIF(shape=(3,), u=np.array({u0}), v=np.array({v0}), du={du}, dv={dv},
                  vth={vth}, bias_mant=np.array({bias}), bias_exp=0)
        mv, ms = Monitor(), Monitor()
        mv.probe(lif.v, {steps})
        ms.probe(lif.s_out, {steps})
        try:
            lif.run(condition=RunSteps(num_steps={steps}),
                    run_cfg=Loihi2SimCfg(select_tag="floating_pt"))
            v = mv.get_data()[lif.name]["v"]
            s = ms.get_data()[lif.name]["s_out"]
            print("RESULT", json.dumps({{"v": v.tolist(), "s": s.tolist()}}))
        finally:
            lif.stop()
    """))
    got = json.loads(out.split("RESULT", 1)[1])
    want_v, want_s = _hand_lif(u0, v0, du, dv, vth, np.array(bias), steps)
    assert want_s.sum() >= 3, "parameters should make some neurons spike"
    np.testing.assert_allclose(np.array(got["v"]), want_v, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(np.array(got["s"]), want_s)


def test_slayer_and_netx_import_without_torchvision() -> None:
    out = _ok(_run("""
        import importlib.util, sys
        real_tv = importlib.util.find_spec("torchvision") is not None
        import lava.lib.dl.slayer
        import lava.lib.dl.netx
        from lava.lib.dl.slayer.object_detection.boundingbox import utils
        print("in sys.modules", "torchvision" in sys.modules, "real", real_tv)
        if not real_tv:
            try:
                utils.transforms.ToPILImage()
            except ImportError as exc:
                print("use fails:", exc)
            try:
                import torchvision
            except ModuleNotFoundError:
                print("import fails")
    """))
    if "real True" in out:
        pytest.skip("a real torchvision is installed; placeholder not exercised")
    assert "in sys.modules False" in out
    assert "import fails" in out
    assert "use fails:" in out and "torchvision" in out.split("use fails:", 1)[1]


def test_install_is_idempotent_and_import_lava_works() -> None:
    out = _ok(_run("""
        import sys
        lava_compat.install()
        lava_compat.import_lava()
        print("finders", sum(isinstance(f, lava_compat._LavaCompatFinder) for f in sys.meta_path),
              "first", isinstance(sys.meta_path[0], lava_compat._LavaCompatFinder),
              "installed", lava_compat.is_installed(),
              "run_configs", "lava.magma.core.run_configs" in sys.modules)
    """))
    assert "finders 1 first True installed True run_configs True" in out


def test_not_installed_by_default() -> None:
    out = _ok(_run("from ssr.targets.loihi_sim import lava_compat\n"
                   "print('installed', lava_compat.is_installed())", install=False))
    assert "installed False" in out


def test_lava_runtime_imports_after_multiprocessing_was_used() -> None:
    """lava sets the 'fork' start method at import; a process that already fixed it (to fork, the
    Linux default) must still import lava, and set_start_method is restored afterwards."""
    out = _ok(_run(textwrap.dedent("""
        import multiprocessing
        multiprocessing.set_start_method("fork")
        import lava.magma.runtime.runtime
        try:
            multiprocessing.set_start_method("fork")
        except RuntimeError:
            print("restored")
        print("imported")
    """)))
    assert "imported" in out and "restored" in out
