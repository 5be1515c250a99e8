"""The one run-folder writer, for coding and topic runs alike.

A run folder cannot be mistaken for a finished run until it is one: it holds an ``INCOMPLETE``
marker from the moment it is made, and ``run.json`` with ``"status": "complete"`` is written, and
the marker removed, only at the very end. A run that raises, or is stopped by Ctrl-C or SIGTERM,
leaves ``INCOMPLETE`` in place and a ``run.json`` with ``"status": "failed"`` (or ``"interrupted"``),
the error's type and its message (withheld when it would quote input text).

Files are written to a temporary name in the folder and renamed into place, so a reader never sees
half a file. ``--out`` must name a new or empty folder: old and new files are never mixed.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from lived_themes.files import write_text_atomic
from lived_themes.errors import ConfigError
from lived_themes.experiment.provenance import run_info, utc_now
from lived_themes.config.load import dump_config
from lived_themes.jsonutil import jsonable
from lived_themes.report.build import write_report

INCOMPLETE = "INCOMPLETE"
RUN_JSON = "run.json"
CONFIG_YAML = "config.yaml"
METRICS_JSON = "metrics.json"
#: Shortest input text that is looked for in an error message before the message is recorded.
_MIN_QUOTED = 12


class RunInterrupted(BaseException):
    """SIGTERM, turned into an exception so the run folder can be marked before the process ends."""


def default_run_dir(root: str | Path, experiment: str, *, now: datetime | None = None) -> Path:
    """``<root>/<experiment>/<UTC timestamp>``, with a suffix when that folder already exists."""
    stamp = (now or utc_now()).strftime("%Y%m%d-%H%M%S")
    folder = Path(root) / experiment / stamp
    suffix = 1
    while folder.exists():
        suffix += 1
        folder = Path(root) / experiment / f"{stamp}-{suffix}"
    return folder


class RunFolder:
    """A run folder being written: ``create`` it, write files into it, then ``finish`` it (or it is marked failed)."""

    def __init__(self, path: Path, *, kind: str, seed: int) -> None:
        self.path = path
        self.started = utc_now()
        self.info: dict[str, Any] = {"status": "running", "kind": kind, **run_info(seed=seed, codebook_hash=None, started=self.started)}
        self._texts: list[str] = []

    @classmethod
    def create(cls, out_dir: str | Path | None, *, root: str | Path, experiment: str, kind: str, seed: int) -> RunFolder:
        """Make the folder (``out_dir``, else ``<root>/<experiment>/<timestamp>``), marked INCOMPLETE.

        An ``out_dir`` that already holds files is refused, so a new run never sits beside an old
        run's model or metrics.
        """
        path = Path(out_dir) if out_dir is not None else default_run_dir(root, experiment)
        if path.exists() and not path.is_dir():
            raise ConfigError(f"--out {path} is a file, not a folder")
        if path.is_dir() and any(path.iterdir()):
            raise ConfigError(f"--out {path} is not empty: give a new or empty folder (a run never mixes its files with another's)")
        path.mkdir(parents=True, exist_ok=True)
        folder = cls(path, kind=kind, seed=seed)
        write_text_atomic(path / INCOMPLETE, f"run started {folder.info['started_utc']}; not finished\n")
        return folder

    # ----- writing -------------------------------------------------------------------------------
    def write_text(self, name: str, text: str) -> Path:
        return write_text_atomic(self.path / name, text)

    def write_json(self, name: str, data: Any) -> Path:
        return self.write_text(name, json.dumps(jsonable(data), indent=2, ensure_ascii=False, allow_nan=False))

    def write_config(self, config: Any) -> Path:
        """``config.yaml``: the resolved config, each component's params complete."""

        return self.write_text(CONFIG_YAML, dump_config(config))

    def protect(self, texts: list[str]) -> None:
        """Input texts that must never appear in a recorded error message."""
        self._texts = [t for t in texts if isinstance(t, str) and len(t.strip()) >= _MIN_QUOTED]

    def write_report(self, metrics: dict[str, Any], *, config: dict[str, Any] | None, figures: bool, html: bool) -> None:
        info = {k: v for k, v in self.info.items() if k != "status"}  # the report is written before the run is complete
        write_report(self.path, metrics, config=config, run_info=info, figures=figures, html=html)

    # ----- ending ----------------------------------------------------------------------------------
    def finish(self, **extra: Any) -> Path:
        """Record ``run.json`` with status complete and remove the INCOMPLETE marker: the very last step."""
        self.info.update(extra)
        self.info["status"] = "complete"
        self.info["finished_utc"] = utc_now().isoformat(timespec="seconds")
        self.write_json(RUN_JSON, self.info)
        (self.path / INCOMPLETE).unlink(missing_ok=True)
        return self.path

    def fail(self, exc: BaseException) -> None:
        """Mark the folder failed or interrupted, with the error's type and a message that quotes no input text."""
        interrupted = isinstance(exc, (KeyboardInterrupt, RunInterrupted))
        message = "interrupted (Ctrl-C)" if isinstance(exc, KeyboardInterrupt) else str(exc).splitlines()[0] if str(exc) else ""
        if isinstance(exc, RunInterrupted):
            message = "terminated (SIGTERM)"
        if any(text in str(exc) for text in self._texts):
            message = "(message withheld: it quoted input text)"
        self.info["status"] = "interrupted" if interrupted else "failed"
        self.info["error"] = {"type": type(exc).__name__, "message": message[:500]}
        self.info["finished_utc"] = utc_now().isoformat(timespec="seconds")
        try:
            self.write_json(RUN_JSON, self.info)
            write_text_atomic(self.path / INCOMPLETE, f"run {self.info['status']}: {type(exc).__name__}: {message[:500]}\n")
        except OSError:  # the folder itself may be the problem; the original error matters more
            pass

    @contextmanager
    def running(self) -> Iterator[RunFolder]:
        """Mark the folder failed on any exception, Ctrl-C or SIGTERM, then re-raise."""
        previous = None
        main = threading.current_thread() is threading.main_thread()
        if main:
            def _terminate(signum: int, frame: Any) -> None:
                raise RunInterrupted("SIGTERM")

            previous = signal.signal(signal.SIGTERM, _terminate)
        try:
            yield self
        except BaseException as exc:
            self.fail(exc)
            raise
        finally:
            if main:
                signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
