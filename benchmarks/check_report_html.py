"""Render a run's report.html in headless Chromium and check that its tables and figures are there.

Usage: python benchmarks/check_report_html.py [RUN_DIR]   (default: the newest runs/*/*/ folder)

What a mailed report needs is that a real browser shows it: the page is loaded by Chromium
(Debian's ``chromium`` package), the DOM it builds is dumped after every image has loaded, and
we assert that the main tables exist with data rows, that every figure decoded in the browser
to a non-zero natural size, that the table of contents links to sections that exist, and that
the "How to read this report" section has its points. A screenshot must not be blank. Exit 0 with "chromium not installed"
when there is no browser, so machines without it are not failed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

REQUIRED_TABLES = ("headline", "per-code", "by-group", "agreement")
READING_ID = "sec-how-to-read-this-report"
# Runs after every image has loaded and writes what the browser decoded into the DOM we dump.
PROBE = """<script>window.addEventListener('load', () => { for (const img of document.images) {
  img.setAttribute('data-natural', img.naturalWidth + 'x' + img.naturalHeight);
  img.setAttribute('data-complete', String(img.complete)); } });</script>"""


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def newest_run(root: Path = Path("runs")) -> Path | None:
    runs = [p for p in root.glob("*/*/") if (p / "report.html").exists()]
    return max(runs, key=lambda p: p.stat().st_mtime) if runs else None


def chromium(binary: str, url: str, *extra: str, timeout: int = 120) -> str:
    """Run headless Chromium once (isolated profile, no network services) and return stdout."""
    with tempfile.TemporaryDirectory() as profile:
        args = [binary, "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                "--virtual-time-budget=10000", *extra, url]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to run as root inside its sandbox
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


class DomSummary(HTMLParser):
    """Tables (id -> data rows in tbody) and images (attributes) from the dumped DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, int] = {}
        self.images: list[dict[str, str]] = []
        self.ids: set[str] = set()
        self.toc_links: list[str] = []
        self.reading_points = 0
        self._table: str | None = None
        self._in_body = False
        self._in_toc = False
        self._in_reading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "nav" and a.get("id") == "contents":
            self._in_toc = True
        elif tag == "a" and self._in_toc:
            self.toc_links.append(a.get("href", ""))
        elif tag == "ul" and "reading" in a.get("class", "").split():
            self._in_reading = True
        elif tag == "li" and self._in_reading:
            self.reading_points += 1
        if tag == "table":
            self._table = a.get("id", "")
            self.tables.setdefault(self._table, 0)
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._table is not None and self._in_body:
            self.tables[self._table] += 1
        elif tag == "img":
            self.images.append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav":
            self._in_toc = False
        elif tag == "ul":
            self._in_reading = False
        if tag == "tbody":
            self._in_body = False
        elif tag == "table":
            self._table = None


def screenshot_is_blank(path: Path) -> bool:
    from PIL import Image

    with Image.open(path) as img:
        colors = img.convert("L").getcolors(maxcolors=1 << 16)
    return colors is not None and len(colors) < 3


def check(run_dir: Path, binary: str) -> list[str]:
    """Problems found in the rendered page; empty when the report is complete."""
    page = run_dir / "report.html"
    if not page.exists():
        return [f"{page} does not exist"]
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        probed = Path(tmp) / "report.html"
        probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
        dom = DomSummary()
        dom.feed(chromium(binary, probed.as_uri(), "--dump-dom"))
        shot = Path(tmp) / "shot.png"
        chromium(binary, page.resolve().as_uri(), f"--screenshot={shot}", "--window-size=1200,3000")
        if not shot.exists() or screenshot_is_blank(shot):
            problems.append("the screenshot of the page is blank")
    for table in REQUIRED_TABLES:
        if table not in dom.tables:
            problems.append(f'no <table id="{table}"> in the rendered page')
        elif dom.tables[table] < 1:
            problems.append(f'<table id="{table}"> has no data rows')
    if len(dom.toc_links) < 3:
        problems.append(f"the table of contents has {len(dom.toc_links)} link(s)")
    broken = [link for link in dom.toc_links if not link.startswith("#") or link[1:] not in dom.ids]
    if broken:
        problems.append(f"table of contents links to sections that do not exist: {broken}")
    if READING_ID not in dom.ids or f"#{READING_ID}" not in dom.toc_links:
        problems.append('no "How to read this report" section (or it is missing from the contents)')
    elif dom.reading_points < 3:
        problems.append(f'"How to read this report" has {dom.reading_points} point(s)')
    if not dom.images:
        problems.append("no figures in the rendered page")
    for img in dom.images:
        alt, size = img.get("alt", "?"), img.get("data-natural", "")
        if not img.get("src", "").startswith("data:image/png;base64,"):
            problems.append(f"figure {alt!r} is not an embedded PNG")
        if not size or "0" in size.split("x"):
            problems.append(f"figure {alt!r} did not decode in the browser (natural size {size or 'unknown'})")
    return problems


def main(argv: list[str]) -> int:
    binary = find_chromium()
    if binary is None:
        print("chromium not installed: skipping the browser check (apt-get install chromium)")
        return 0
    run_dir = Path(argv[0]) if argv else newest_run()
    if run_dir is None:
        print("no run folder with report.html under runs/; pass RUN_DIR", file=sys.stderr)
        return 2
    problems = check(run_dir, binary)
    for p in problems:
        print(f"FAIL: {p}", file=sys.stderr)
    if not problems:
        print(f"OK: {run_dir / 'report.html'} renders in Chromium with its contents, reading, tables and figures")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
