"""Files handled so that nothing is lost: outputs never overwrite inputs, writes are atomic, YAML is strict.

* :func:`refuse_overwrite` is the one check every command that writes runs before anything is opened: it
  stops ``predict in.csv -o in.csv`` (or ``-o model/coder.json``): an output that resolves to an input file
  (through symlinks and hard links), or lies inside an input folder, is an error; so is an output that
  exists and is not a regular file.
* :func:`atomic_output` writes to a temporary file in the target folder and renames it into place with
  ``os.replace`` only when the writer finished, so a crash or Ctrl-C leaves either the old file or the
  complete new one, and no temporary file behind. A target that exists and is not a regular file (a
  device such as ``/dev/null``, a FIFO, a socket, a folder, or a symlink to one) is refused: renaming over
  it would replace the device node itself, for the whole machine. ``-`` (:data:`STDOUT`) is standard output
  for the commands that offer it (``predict -o -``).
* :func:`load_yaml` reads YAML with ``SafeLoader`` rules plus two refusals: a mapping with the same key
  twice (YAML would silently keep the last one) and aliases that expand to a huge document (an
  "alias bomb" that would exhaust memory when validated).
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lived_themes.errors import InputError

#: Most nodes a YAML document may expand to once aliases are followed (a real config has a few hundred).
MAX_YAML_NODES = 100_000
#: Deepest nesting a YAML document may have (a config or codebook nests a few levels; recursive code walks it later).
MAX_YAML_DEPTH = 100


#: The output name that means standard output, for the commands that can stream (``predict -o -``).
STDOUT = "-"


# ----- outputs that cannot destroy inputs ------------------------------------------------------------

def is_stdout(path: str | Path | None) -> bool:
    """True for ``-``: write to standard output instead of a file."""
    return path is not None and str(path) == STDOUT


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a regular file"

def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def refuse_overwrite(output: str | Path, inputs: Iterable[str | Path | None], *, folder: bool = False) -> None:
    """Raise InputError when ``output`` is one of ``inputs``, lies inside an input folder, or exists as something
    other than a regular file (``folder=True``: an output folder, which may exist as a folder).

    Every command that writes calls this before reading anything, for each of its outputs: the one rule
    that keeps a typo from destroying the data it reads.
    """
    if is_stdout(output):
        return
    out = Path(output)
    if folder:
        if out.exists() and not out.is_dir():
            raise InputError("the output folder exists and is not a folder; choose a new folder", file=out)
    else:
        _check_target(out)
    out_resolved = _resolved(out)
    for item in inputs:
        if item is None or not isinstance(item, (str, Path)):
            continue  # an in-memory table cannot be overwritten
        source = Path(item)
        resolved = _resolved(source)
        if out_resolved == resolved or _same_file(out, source):
            raise InputError("the output path is also an input; choose another output file", file=out)
        if source.is_dir() and (resolved == out_resolved or resolved in out_resolved.parents):
            raise InputError(f"the output path lies inside the input folder {source}; choose a path outside it", file=out)


def _resolved(path: Path) -> Path:
    """``path.resolve()``, with a symlink loop said in one located line instead of pathlib's RuntimeError."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):
        raise InputError("a symlink loop: the path's links point at each other and never reach a file", file=path) from None


def _check_target(path: Path) -> None:
    """An output path must be new or a regular file: renaming over a device, FIFO or socket would replace it."""
    try:
        mode = os.stat(path).st_mode  # follows symlinks: a link to /dev/null is /dev/null
    except (FileNotFoundError, NotADirectoryError):  # new (a path through a file is named below)
        mode = None
    except OSError as exc:  # a symlink loop, no permission
        raise InputError(f"cannot write here: {exc.strerror or exc}", file=path) from None
    if mode is not None and stat.S_ISDIR(mode):
        raise InputError("the output path is a folder; give a file name", file=path)
    if mode is not None and not stat.S_ISREG(mode):
        raise InputError(f"the output path is {_kind(mode)}, not a regular file: refusing to replace it; "
                         f"give a file name{' (or - for standard output where the command offers it)' if stat.S_ISCHR(mode) else ''}",
                         file=path)
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise InputError(f"cannot write here: {parent} is a file, not a folder", file=path)


@contextmanager
def atomic_output(path: str | Path, *, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = None) -> Iterator[Any]:
    """Open a temporary file next to ``path`` and move it into place only if the block finishes.

    Yields an open handle (``mode`` "w" or "wb"). Any exception, including KeyboardInterrupt,
    removes the temporary file and leaves whatever was at ``path`` before untouched.
    """
    with atomic_path(path) as temp:
        kwargs: dict[str, Any] = {} if "b" in mode else {"encoding": encoding, "newline": newline}
        with open(temp, mode, **kwargs) as handle:
            yield handle


@contextmanager
def text_output(path: str | Path) -> Iterator[Any]:
    """``atomic_output(path)``, or standard output for ``-`` (a stream cannot be rolled back: it is written as it goes)."""
    if is_stdout(path):
        import sys

        yield sys.stdout
        sys.stdout.flush()
        return
    with atomic_output(path) as handle:
        yield handle


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path in the target folder for writers that take a path (Parquet, CSV); renamed on success."""
    target = Path(path)
    _check_target(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    os.close(fd)
    temp = Path(name)
    try:
        yield temp
        _check_target(target)  # again: a device or FIFO may have appeared there while the writer ran
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write a whole text file atomically (UTF-8)."""
    with atomic_output(path, newline="") as handle:
        handle.write(text)
    return Path(path)


# ----- CSV cells that open safely in a spreadsheet ---------------------------------------------------

#: A cell starting with one of these is a formula to Excel, LibreOffice or Sheets (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _needs_escape(text: str) -> bool:
    """True for text that starts, after any apostrophes, with a formula character; apostrophes count so that
    escaping stays reversible (``'=x`` is written ``''=x`` and read back as ``'=x``)."""
    return text.lstrip("'").startswith(FORMULA_START)


def escape_cell(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula gets a leading ``'``; anything else is unchanged."""
    if isinstance(value, str) and _needs_escape(value):
        return "'" + value
    return value


def unescape_cell(value: Any) -> Any:
    """The inverse of :func:`escape_cell`, for files the package wrote and reads back (a filled ``batch.csv``)."""
    if isinstance(value, str) and value.startswith("'") and _needs_escape(value[1:]):
        return value[1:]
    return value


def csv_for_people(frame: Any, **to_csv: Any) -> str:
    """CSV text for a file researchers open in a spreadsheet: formula-leading text cells are prefixed with ``'``
    and every text cell is quoted, as OWASP recommends; numbers stay numbers."""
    import csv

    from pandas.api.types import is_numeric_dtype

    safe = frame.copy()
    for column in safe.columns:
        if not is_numeric_dtype(safe[column]):
            safe[column] = safe[column].map(escape_cell)
    safe.columns = [escape_cell(str(c)) for c in safe.columns]
    return safe.to_csv(quoting=csv.QUOTE_NONNUMERIC, **{"index": False, **to_csv})


def unescape_columns(frame: Any, columns: Iterable[str]) -> Any:
    """Undo :func:`csv_for_people`'s escape in ``columns`` (those the package reads back), in place; returns the frame."""
    from pandas.api.types import is_numeric_dtype

    for column in columns:
        if column in frame.columns and not is_numeric_dtype(frame[column]):
            frame[column] = frame[column].map(unescape_cell)
    return frame


# ----- strict YAML -----------------------------------------------------------------------------------

def _strict_loader() -> type:
    import yaml

    class StrictLoader(yaml.SafeLoader):
        """SafeLoader that refuses duplicate keys and documents that aliases blow up past MAX_YAML_NODES."""

        def get_single_node(self) -> Any:
            node = super().get_single_node()
            if node is not None:
                _check_depth(node, MAX_YAML_DEPTH)
                _check_expanded_size(node, MAX_YAML_NODES)
            return node

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            if isinstance(node, yaml.MappingNode):
                seen: dict[Any, Any] = {}
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue
                    key = self.construct_object(key_node, deep=True)
                    try:
                        hash(key)
                    except TypeError:
                        continue  # SafeConstructor reports unhashable keys itself
                    if key in seen:
                        raise yaml.constructor.ConstructorError(
                            "while constructing a mapping", node.start_mark,
                            f"found the key {key!r} twice (first on line {seen[key].line + 1}); YAML would keep only the last",
                            key_node.start_mark,
                        )
                    seen[key] = key_node.start_mark
            return super().construct_mapping(node, deep=deep)

    return StrictLoader


def _check_depth(root: Any, limit: int) -> None:
    """Refuse a document nested deeper than ``limit`` (checked without recursion, before anything walks it recursively)."""
    import yaml

    stack = [(root, 1)]
    seen: set[int] = set()
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise yaml.YAMLError(f"the document is nested more than {limit} levels deep; refused (a real config nests a few levels)")
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend((child, depth + 1) for pair in node.value for child in pair)


def _check_expanded_size(root: Any, limit: int) -> None:
    """Count nodes as if every alias were copied out; refuse documents that expand past ``limit``."""
    import yaml

    sizes: dict[int, int] = {}

    def size(node: Any) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        sizes[key] = 1  # a cycle (recursive alias) counts once here and is refused by the constructor
        if isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in node.value)
        else:
            total = 1
        total = min(total, limit + 1)
        sizes[key] = total
        return total

    if size(root) > limit:
        raise yaml.YAMLError(f"the document expands to more than {limit} values once aliases are followed (an alias bomb?); refused")


_LOADER: type | None = None


def load_yaml(text: str) -> Any:
    """Parse YAML text safely (no Python tags), refusing duplicate keys and alias bombs; raises yaml.YAMLError."""
    import yaml

    global _LOADER
    if _LOADER is None:
        _LOADER = _strict_loader()
    try:
        return yaml.load(text, Loader=_LOADER)  # noqa: S506 - StrictLoader is a SafeLoader
    except RecursionError:  # PyYAML composes nodes recursively: thousands of nested [ or keys exhaust the stack first
        raise yaml.YAMLError(f"the document is nested too deeply (more than {MAX_YAML_DEPTH} levels); refused") from None
