"""Execute every notebook top to bottom (``make notebooks``), writing executed copies outside git.

    python notebooks/run_notebooks.py [--out DIR] [--small] [NAME ...]

Executed copies go to ``--out`` (default ``notebooks/_executed/``, ignored by git); the committed
notebooks keep no outputs. A notebook whose shared corpus is absent (its ``lived_themes.needs``
metadata) stops at its data cell with a message saying where to get the corpus: that is reported
as skipped, not as a failure. A cell tagged "figure" that shows no figure fails the notebook (a
figure that silently vanished is a failure too). Prints each notebook's wall time and figure count.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def main(argv: list[str] | None = None) -> int:
    import nbclient
    import nbformat

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", help="notebook file names (default: all)")
    p.add_argument("--out", type=Path, default=HERE / "_executed")
    p.add_argument("--small", action="store_true", help="the test suite's small settings (LT_NOTEBOOK_SMALL=1)")
    p.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = p.parse_args(argv)
    if args.small:
        os.environ["LT_NOTEBOOK_SMALL"] = "1"
    args.out.mkdir(parents=True, exist_ok=True)
    paths = [HERE / n for n in args.names] if args.names else sorted(HERE.glob("[0-9]*.ipynb"))
    failed = 0
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        needs = notebook.metadata.get("lived_themes", {}).get("needs")
        start = time.time()
        if needs and not (REPO / needs).exists():
            print(f"{path.name}: skipped, {needs} not found (the notebook says where to get it)")
            continue
        client = nbclient.NotebookClient(notebook, timeout=args.timeout, kernel_name="python3", resources={"metadata": {"path": str(REPO)}})
        try:
            client.execute()
            status = "ok"
        except nbclient.exceptions.CellExecutionError as exc:
            status, failed = f"FAILED: {str(exc).strip().splitlines()[-1]}", failed + 1
        figures = sum("image/png" in o.get("data", {}) for c in notebook.cells for o in c.get("outputs", []))
        blank = [i for i, c in enumerate(notebook.cells) if "figure" in c.get("metadata", {}).get("tags", [])
                 and not any("image/png" in o.get("data", {}) for o in c.get("outputs", []))]
        if blank and status == "ok":
            status, failed = f"FAILED: cells {blank} are meant to draw but show no figure", failed + 1
        nbformat.write(notebook, args.out / path.name)
        print(f"{path.name}: {status}, {time.time() - start:.0f} s, {figures} figure(s) -> {args.out / path.name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
