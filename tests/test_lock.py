"""Installs are reproducible: the Makefile installs from the lock file, and the lock pins every dependency."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not pinned with =="
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_every_dependency_of_every_extra_is_pinned():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = {_name(r) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        names |= {_name(r) for r in extra if not r.startswith("lived-themes")}
    missing = sorted(names - set(_pins()))
    assert not missing, f"not in constraints.txt (run `make lock`): {missing}"


def test_the_lock_pins_the_cpu_torch_without_a_local_label():
    assert _pins()["torch"] == "2.13.0"
    assert not [n for n in _pins() if n.startswith("nvidia-")], "a CUDA wheel is pinned: the lock was made on a GPU build"


def test_make_installs_from_the_lock():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"pip install -q -c \$\(LOCK\) -e \"\.\[all,dev\]\"", makefile)
    assert "LOCK   ?= constraints.txt" in makefile
