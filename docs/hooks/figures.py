"""Publish the benchmark figures (``benchmarks/results/*.png``) with the site, from where the scripts write them.

An mkdocs hook: the Results and benchmarks page shows ``benchmarks/results/NAME.png``; copying the files
into docs/ would leave two copies to drift apart, so the build serves the scripts' own output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

REPO = Path(__file__).resolve().parents[2]


def on_files(files: Files, config: Any) -> Files:
    for png in sorted((REPO / "benchmarks" / "results").glob("*.png")):
        files.append(File(f"benchmarks/results/{png.name}", src_dir=str(REPO), dest_dir=config["site_dir"],
                          use_directory_urls=config["use_directory_urls"]))
    return files
