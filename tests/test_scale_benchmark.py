"""benchmarks/scale.py measures each step's own memory, not the parent's that started it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="VmHWM is read from /proc (Linux)")
def test_a_child_step_does_not_report_its_parents_memory_as_its_own_peak() -> None:
    held = bytearray(300 * 2**20)  # the parent holds 300 MB, as it does after writing a 1M-row corpus
    held[:: 4096] = b"\1" * len(held[:: 4096])
    # On Linux the child's ru_maxrss starts at the parent's resident size (fork + exec keep it): over 300 here.
    code = "import scale; print(scale._peak_mb())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO / "benchmarks")
    assert float(out.stdout) < 100  # the child's own high-water mark
    del held


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="VmHWM is restarted through /proc (Linux)")
def test_the_peak_can_be_restarted_to_split_loading_from_scoring() -> None:
    code = ("import scale\nx = bytearray(200 * 2**20); x[::4096] = b'\\1' * len(x[::4096]); before = scale._peak_mb(); del x\n"
            "print(before, scale._peak_mb() if scale._reset_peak() else -1, scale._rss_mb())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO / "benchmarks")
    before, after, now = map(float, out.stdout.split())
    assert before > 200
    assert after == -1 or after < 150  # after the restart only what is resident now counts
    assert now < 150
