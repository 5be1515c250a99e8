"""Regenerate the README's headline tables from recorded run metrics, so the figures cannot drift.

Each table sits between ``<!-- headline:NAME -->`` and ``<!-- /headline:NAME -->`` in README.md and is
rendered by the package's own ``headline_table`` from ``docs/results/NAME.metrics.json`` (the
``metrics.json`` of the run that produced it, recorded in git; no quote text is in it).

    python benchmarks/readme_tables.py                      # re-render every table from the recorded metrics
    python benchmarks/readme_tables.py --record RUN_DIR     # record a run's metrics.json, then re-render
    python benchmarks/readme_tables.py --check              # exit 1 if the README differs (what the test checks)

``make readme`` records the newest complete run of each experiment that has a table.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RESULTS = ROOT / "docs" / "results"
BLOCK = re.compile(r"(<!-- headline:(?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- /headline:(?P=name) -->)", re.S)


def recorded_metrics(name: str, results: Path = RESULTS) -> dict:
    """The recorded metrics of experiment ``name`` (``NAME.metrics.json`` or ``.json.gz``)."""
    plain, packed = results / f"{name}.metrics.json", results / f"{name}.metrics.json.gz"
    if plain.exists():
        return json.loads(plain.read_text(encoding="utf-8"))
    if packed.exists():
        return json.loads(gzip.decompress(packed.read_bytes()).decode("utf-8"))
    raise FileNotFoundError(f"no recorded metrics for {name!r}: expected {plain} (record a run with --record RUN_DIR)")


def render(text: str, results: Path = RESULTS) -> str:
    """README text with every headline block re-rendered from its recorded metrics."""
    from lived_themes.report.build import headline_table, untested_codes

    def one(match: re.Match) -> str:
        metrics = recorded_metrics(match["name"], results)
        block = headline_table(metrics).rstrip("\n") + "\n"
        if untested_codes(metrics):  # which codes had no test examples, under each scheme
            block += "\n" + untested_codes(metrics) + "\n"
        return match.group(1) + block + match.group(4)

    return BLOCK.sub(one, text)


def record(run_dir: Path, results: Path = RESULTS) -> str:
    """Copy a finished run's metrics.json to ``docs/results/<experiment>.metrics.json``; returns the name."""
    metrics_path = run_dir / "metrics.json"
    if not metrics_path.exists():
        raise FileNotFoundError(f"{run_dir}: no metrics.json (is it a finished run folder?)")
    if (run_dir / "INCOMPLETE").exists():
        raise ValueError(f"{run_dir}: the run did not finish")
    name = run_dir.parent.name
    results.mkdir(parents=True, exist_ok=True)
    text = metrics_path.read_text(encoding="utf-8")
    target = results / f"{name}.metrics.json"
    if len(text) > 1_000_000:
        target = target.with_suffix(".json.gz")
        (results / f"{name}.metrics.json").unlink(missing_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
    else:
        (results / f"{name}.metrics.json.gz").unlink(missing_ok=True)
        tmp = target.with_suffix(".tmp")
        shutil.copyfile(metrics_path, tmp)
    tmp.replace(target)
    return name


def newest_run(name: str, runs: Path = ROOT / "runs") -> Path:
    """The newest finished run folder of experiment ``name``."""
    folders = sorted(p for p in (runs / name).glob("*") if (p / "metrics.json").exists() and not (p / "INCOMPLETE").exists())
    if not folders:
        raise FileNotFoundError(f"no finished run under {runs / name}")
    return folders[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--record", nargs="*", type=Path, default=[], help="run folders whose metrics.json to record first")
    parser.add_argument("--record-newest", nargs="*", default=[], help="experiment names: record their newest finished run")
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 when the README is out of date")
    args = parser.parse_args(argv)
    for run_dir in list(args.record) + [newest_run(n) for n in args.record_newest]:
        print(f"recorded {run_dir} as docs/results/{record(run_dir)}.metrics.json")
    text = README.read_text(encoding="utf-8")
    new = render(text)
    if args.check:
        if new != text:
            print("README.md headline tables differ from the recorded metrics: run `make readme`", file=sys.stderr)
            return 1
        print("README.md headline tables match the recorded metrics")
        return 0
    if new != text:
        tmp = README.with_suffix(".md.tmp")
        tmp.write_text(new, encoding="utf-8")
        tmp.replace(README)
        print("README.md updated")
    else:
        print("README.md already up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
