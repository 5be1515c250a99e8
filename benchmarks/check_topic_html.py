"""Open every BERTopic HTML figure of a topic run in headless Chromium and check the plot was drawn.

    python benchmarks/check_topic_html.py RUN_FOLDER [--chromium /usr/bin/chromium]

Each figure is rendered with ``--dump-dom`` after its scripts ran; the check passes when the DOM
holds a plotly graph with drawn SVG (``class="main-svg"``), which only appears if plotly.js loaded
offline and the figure data was valid. Exits 0 with a "skipped" line when Chromium is not installed
(install on Debian: ``apt-get install -y chromium``), 1 when any figure fails.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")
MARKERS = ("plotly-graph-div", "main-svg")


def find_chromium(explicit: str | None = None) -> str | None:
    if explicit:
        return explicit if Path(explicit).exists() or shutil.which(explicit) else None
    return next((path for name in CANDIDATES if (path := shutil.which(name))), None)


def render(chromium: str, html: Path, *, timeout: int = 90) -> str:
    """The DOM after scripts ran (a fresh profile each time, no network, no GPU)."""
    with tempfile.TemporaryDirectory() as profile:
        args = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            html.resolve().as_uri(),
        ]
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
        return done.stdout


def check(run: Path, chromium: str) -> list[tuple[Path, bool, str]]:
    results = []
    for html in sorted(run.rglob("*.html")):
        try:
            dom = render(chromium, html)
        except subprocess.TimeoutExpired:
            results.append((html, False, "timed out"))
            continue
        missing = [m for m in MARKERS if m not in dom]
        results.append((html, not missing, "ok" if not missing else f"missing {missing} ({len(dom)} chars of DOM)"))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a topic run folder (or any folder of HTML figures)")
    parser.add_argument("--chromium", default=None, help="path to the Chromium binary")
    args = parser.parse_args(argv)
    chromium = find_chromium(args.chromium)
    if chromium is None:
        print("skipped: Chromium not found (Debian: apt-get install -y chromium)")
        return 0
    results = check(args.run, chromium)
    if not results:
        print(f"no HTML figures under {args.run}")
        return 1
    for html, ok, note in results:
        print(f"{'PASS' if ok else 'FAIL'}  {html.relative_to(args.run)}  {note}")
    failed = sum(not ok for _, ok, _ in results)
    print(f"{len(results) - failed}/{len(results)} figures drawn")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
