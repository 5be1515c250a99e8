"""The ``lived-themes`` command: a thin typer wrapper over the package's plain functions.

Heavy modules are imported inside each command so that ``--help`` answers at once.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Optional

import typer

from lived_themes import __version__
from lived_themes.encoders.offline import set_offline_mode
from lived_themes.errors import LivedThemesError
from lived_themes.files import is_stdout, refuse_overwrite, write_text_atomic

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Learn qualitative codes from annotated quotes, and measure how far a model can be trusted, and for whom.",
)


_VERBOSE = False


def _one_line(text: str) -> str:
    """Messages that list several problems on several lines become one line, joined by '; '."""
    parts = [p.strip() for p in str(text).splitlines() if p.strip()]
    return "; ".join(parts).replace(":;", ":")


def describe_error(exc: BaseException) -> str:
    """A located one-line message for a user-facing error: ``<file>: <field/row>: <why>`` where known."""
    import yaml
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
        return f"{exc.title}: {loc}: {first['msg']} ({exc.error_count()} problem(s) in all)"
    if isinstance(exc, yaml.YAMLError):
        return f"not valid YAML: {_one_line(str(exc))}"
    if isinstance(exc, OSError) and not isinstance(exc, ImportError):
        reason = exc.strerror or str(exc)
        if exc.filename is not None:
            return f"{exc.filename}: {reason}" + (f" -> {exc.filename2}" if exc.filename2 else "")
        return reason
    return _one_line(str(exc))


def _fail(exc: BaseException) -> None:
    if _VERBOSE:
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    typer.secho(f"error: {describe_error(exc)}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean bad input, a bad config, a bad model folder or a file system problem: exit 2, no traceback."""
    import yaml
    from pydantic import ValidationError

    return (LivedThemesError, ValidationError, yaml.YAMLError, OSError)


def located_errors(*extra: type[BaseException]):
    """Decorator: one error path for every command. User errors (and ``extra``) become ``error: ...`` and exit 2;
    anything else is a bug and keeps its traceback (exit 1). ``--verbose`` prints the traceback for both."""
    import functools

    def wrap(command):
        @functools.wraps(command)
        def run_command(*args, **kwargs):
            try:
                return command(*args, **kwargs)
            except typer.Exit:
                raise
            except _user_errors() + extra as exc:
                _fail(exc)

        return run_command

    return wrap


def _console():
    from rich.console import Console

    return Console(stderr=False)


_PACKAGE = Path(__file__).resolve().parent
_show_warning = warnings.showwarning


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    """The package's own warnings (a deprecated config form) as one ``warning:`` line, not a source location."""
    if Path(filename).resolve().is_relative_to(_PACKAGE):
        typer.secho(f"warning: {message}", fg=typer.colors.YELLOW, err=True)
    else:
        _show_warning(message, category, filename, lineno, file, line)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"lived-themes {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details (never quote text) and show tracebacks."),
    allow_download: bool = typer.Option(
        False, "--allow-download", help="Let encoders be downloaded from the Hugging Face hub (off by default: nothing leaves the machine)."
    ),
) -> None:
    global _VERBOSE
    _VERBOSE = verbose
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not verbose:  # the runner prints its own progress; the libraries' per-batch bars would drown it
        for name in ("HF_HUB_DISABLE_PROGRESS_BARS", "HF_DATASETS_DISABLE_PROGRESS_BARS", "TQDM_DISABLE"):
            os.environ.setdefault(name, "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

    set_offline_mode(allow_download=allow_download)
    warnings.showwarning = _one_line_warning


@app.command()
@located_errors(ValueError)
def extract(
    report: Path = typer.Argument(..., help="Consultation report (Markdown)."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the quotes (.jsonl, .csv or .parquet)."),
    pipeline: Optional[str] = typer.Option(None, help="A named installed spaCy pipeline (e.g. en_core_web_sm); default: blank English."),
    id_prefix: Optional[str] = typer.Option(None, help="Prefix for quote ids (default: the report's file name)."),
) -> None:
    """Extract every verbatim quote from a consultation report, with section, line and speaker notation."""
    from lived_themes.corpus import write_table
    from lived_themes.corpus.tables import table_format
    from lived_themes.extract import extract_quotes

    table_format(output)  # an unknown output format is refused before the (slow) extraction
    refuse_overwrite(output, [report])
    quotes = extract_quotes(report, pipeline=pipeline, id_prefix=id_prefix)
    if output.suffix == ".jsonl":
        from lived_themes.extract import write_quotes_jsonl

        write_quotes_jsonl(quotes, output)
    else:
        write_table(quotes, output)
    by_source = quotes["source"].value_counts().to_dict() if "source" in quotes else {}
    typer.echo(f"{len(quotes)} quotes ({', '.join(f'{v} {k}' for k, v in by_source.items())}) -> {output}")


def _mapping(pairs: list[str], option: str) -> dict[str, str] | None:
    """``--column-mapping "Your column=text"`` (repeatable) -> {your column: package column}."""
    out: dict[str, str] = {}
    for pair in pairs:
        source, sep, target = pair.rpartition("=")
        if not sep or not source.strip() or not target.strip():
            raise typer.BadParameter(f"expected YOUR_COLUMN=PACKAGE_COLUMN, got {pair!r}", param_hint=option)
        out[source.strip()] = target.strip()
    return out or None


def _experiment_data(experiment: Path):
    """The ``data`` section of an experiment file, resolved as `run` resolves it (defaults, then the file)."""
    from lived_themes.config.coding import ExperimentConfig
    from lived_themes.config.load import load_config

    config = load_config(experiment)
    if not isinstance(config, ExperimentConfig):
        raise ValueError(f"{experiment}: a coding experiment is needed (its data section), not a topic experiment")
    return config.data


@app.command()
@located_errors(ValueError)
def describe(
    corpus: Optional[Path] = typer.Argument(None, help="A corpus folder (quotes.*, annotations.*, codebook.yaml) or a quotes file; omit with --experiment."),
    experiment: Optional[Path] = typer.Option(None, "--experiment", "-e", help="Read the data as this experiment file's data section does (format, mapping, label column, encoding)."),
    annotations: Optional[Path] = typer.Option(None, help="Long annotations file, when CORPUS is a quotes file."),
    column_mapping: list[str] = typer.Option([], "--column-mapping", help="Rename a quotes column: 'Your column=text' (repeatable)."),
    annotation_mapping: list[str] = typer.Option([], "--annotation-mapping", help="Rename an annotations column: 'Rater=coder' (repeatable)."),
    codebook: Optional[Path] = typer.Option(None, help="Codebook YAML."),
    by: list[str] = typer.Option([], "--by", help="Group column(s) to break counts down by (default: all low-cardinality metadata)."),
    min_report_group_size: int = typer.Option(5, min=1, help="Privacy floor: group values with fewer quotes are shown as 'suppressed (n < N)'; 1 turns it off."),
    allow_free_text: list[str] = typer.Option([], "--allow-free-text-column", help="A --by column meant as groups although its values look like free text (repeatable; never the text column)."),
) -> None:
    """Counts per code, per coder and per group value, as tables in the terminal."""
    from lived_themes.corpus import load_corpus
    from lived_themes.corpus.describe import render_description

    loaded_allowed: list[str] = []
    if experiment is not None:
        from lived_themes.experiment.data import load_from_config

        data = _experiment_data(experiment)
        loaded_allowed = data.allow_free_text_columns
        if corpus is not None:
            data = data.model_copy(update={"path": str(corpus)})
        loaded = load_from_config(data, base_dir=experiment.parent)
    elif corpus is None:
        raise typer.BadParameter("give a CORPUS or --experiment", param_hint="CORPUS")
    else:
        loaded = load_corpus(corpus, annotations, codebook=codebook, column_mapping=_mapping(column_mapping, "--column-mapping"),
                             annotation_mapping=_mapping(annotation_mapping, "--annotation-mapping"))
    allowed = [*allow_free_text, *loaded_allowed]
    render_description(loaded, by=by or None, console=_console(), min_group_size=min_report_group_size, allow_free_text=allowed)


@app.command()
@located_errors()
def codebook(
    path: Path = typer.Argument(..., help="Codebook YAML."),
    markdown: Optional[Path] = typer.Option(None, "--markdown", "-o", help="Write the Markdown table here (default: print it)."),
) -> None:
    """Validate a codebook, print its content hash, and export it as a Markdown table for papers."""
    from lived_themes.codebook import load_codebook

    if markdown:
        refuse_overwrite(markdown, [path])
    book = load_codebook(path)
    table = book.to_markdown()
    if markdown:
        write_text_atomic(markdown, table)
        typer.echo(f"{book.name} {book.version}: {len(book.codes)} codes, hash {book.content_hash()} -> {markdown}")
    else:
        typer.echo(table)


@app.command()
@located_errors(ValueError, KeyError, ImportError)
def run(
    experiment: Path = typer.Argument(..., help="Experiment YAML (only its differences from configs/defaults.yaml)."),
    set_: list[str] = typer.Option([], "--set", help="Override a config value: key.sub=value (repeatable)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run folder (default: runs/<experiment>/<timestamp>/)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan (splits, fold sizes, codes kept and dropped, estimated time); fit and write nothing."),
) -> None:
    """Run an experiment (coding, or topics when the file lists topic `models`) and write a run folder. Prints the folder last."""
    _run_command(experiment, set_, out, quiet=quiet, dry_run=dry_run)


@app.command()
@located_errors(ValueError, KeyError, ImportError)
def topics(
    experiment: Path = typer.Argument(..., help="Topic experiment YAML (e.g. experiments/nsun2014_topics.yaml)."),
    set_: list[str] = typer.Option([], "--set", help="Override a config value: key.sub=value (repeatable)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run folder (default: runs/<experiment>/<timestamp>/)."),
) -> None:
    """Fit topic models (BERTopic, LDA, NMF), align them with human codes, and write tables and figures."""
    _run_command(experiment, set_, out, quiet=True)


@app.command("llm-prompt")
@located_errors(ValueError, KeyError, ImportError)
def llm_prompt(
    experiment: Path = typer.Argument(..., help="Experiment YAML with an LLM coder (llm.v1)."),
    quote_id: str = typer.Option(..., "--quote-id", help="The quote whose prompt to show."),
    coder: Optional[str] = typer.Option(None, "--coder", help="Which LLM coder, when the experiment has several."),
    set_: list[str] = typer.Option([], "--set", help="Override a config value: key.sub=value (repeatable)."),
) -> None:
    """Dry run: print, as JSON, exactly what an LLM coder would send for one quote (after redaction). Sends nothing."""
    import json

    from lived_themes.config.load import load_config
    from lived_themes.workflows.llm_prompt import llm_prompt as build

    typer.echo(json.dumps(build(load_config(experiment, overrides=set_), quote_id, coder=coder), indent=2, ensure_ascii=False))


def _run_command(experiment: Path, set_: list[str], out: Optional[Path], *, quiet: bool, dry_run: bool = False) -> None:
    """`run` and `topics`: the one config loader, then the one run(cfg); a coding run's plan and time estimate first."""
    from lived_themes.config.coding import ExperimentConfig
    from lived_themes.config.load import load_config
    from lived_themes.experiment.run import run as run_config
    from lived_themes.experiment.run_folder import RunInterrupted

    config = load_config(experiment, overrides=set_)
    if dry_run or (not quiet and isinstance(config, ExperimentConfig)):
        if not isinstance(config, ExperimentConfig):
            raise ValueError("--dry-run plans coding experiments; a topic experiment has no splits to plan")
        from lived_themes.experiment.coding import build_plan, plan_text

        base = config.base_dir if config.base_dir is not None else experiment.parent
        if dry_run:
            typer.echo(plan_text(build_plan(config, base_dir=base)))
            return
        try:
            typer.echo(f"estimated time: {build_plan(config, base_dir=base)['estimate']}", err=True)
        except Exception:  # noqa: BLE001 - only the estimate is skipped; the run itself reports what is wrong
            pass
    if out is not None:

        inputs: list[Path] = [experiment]
        if isinstance(config, ExperimentConfig):
            from lived_themes.experiment.data import resolve_path

            base = config.base_dir if config.base_dir is not None else experiment.parent
            inputs += [resolve_path(p, base) for p in (config.data.path, config.data.annotations, config.data.codebook) if p]
        refuse_overwrite(out, inputs, folder=True)
    console = _console()
    progress = None if quiet else (lambda message: console.log(message))
    try:
        run_dir = run_config(config, out_dir=out, progress=progress)
    except RunInterrupted:
        typer.secho("error: terminated; the run folder is marked INCOMPLETE", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=143) from None
    if not quiet and isinstance(config, ExperimentConfig):
        _print_headline(run_dir)
    elif not isinstance(config, ExperimentConfig):
        _print_topic_summary(run_dir)
    typer.echo(str(run_dir))


def _print_topic_summary(run_dir: Path) -> None:
    """A topic run's one table on the console: per model, topics, outlier share, coherence, diversity, alignment."""
    import pandas as pd

    try:
        quality = pd.read_csv(run_dir / "quality.csv")
        scores = pd.read_csv(run_dir / "alignment.csv")
    except (OSError, ValueError):  # a run with no model written: the folder line says where to look
        return
    table = quality.merge(scores[["model", "nmi", "ari", "purity"]], on="model", how="left")
    columns = ["model", "topic_model", "n_topics", "outlier_share", "npmi", "diversity", "nmi", "ari", "purity"]
    lines = ["| " + " | ".join(c.replace("_", " ") for c in columns) + " |", "|" + "---|" * len(columns)]
    for row in table.to_dict("records"):
        lines.append("| " + " | ".join(f"{row.get(c):.3f}" if isinstance(row.get(c), float) else str(row.get(c, "")) for c in columns) + " |")
    typer.echo("\n".join(lines))


def _print_headline(run_dir: Path) -> None:
    import json

    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    try:
        from lived_themes.report.build import headline_table, untested_codes
    except ImportError:
        return
    typer.echo(headline_table(metrics))
    if untested_codes(metrics):
        typer.echo(untested_codes(metrics))


@app.command()
@located_errors(ImportError)  # ImportError: an --encoder-backend whose extra is not installed
def predict(
    model_dir: Path = typer.Argument(..., help="A run folder with a saved model/ (runs/<exp>/<time>), or the model folder itself."),
    input: Path = typer.Argument(..., help="CSV, TSV, JSONL or Parquet file of texts."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write one row per input row: Parquet for .parquet, else JSON lines; - for standard output. Read and written a chunk at a time."),
    text_column: Optional[str] = typer.Option(None, help="Column holding the text (default: text, or the one --experiment maps to text)."),
    id_column: Optional[str] = typer.Option(None, help="Column holding the row id (default: quote_id, or the one --experiment maps to quote_id)."),
    experiment: Optional[Path] = typer.Option(None, "--experiment", "-e", help="Take the text and id columns from this experiment's data.column_mapping; "
                                              "an input without the id column then gets row numbers (1, 2, ...) as ids."),
    evidence: bool = typer.Option(True, "--evidence/--no-evidence", help="Give each predicted code the span of the text that most supports it (offsets and text, in the output file only)."),
    llm_base_url: Optional[str] = typer.Option(None, "--llm-base-url", help="A model that asks an LLM server (llm.v1 over http): the server's address, up to /v1. "
                                               "Yours to give, never the model folder's; on this machine unless --allow-remote."),
    allow_remote: bool = typer.Option(False, "--allow-remote", help="Let --llm-base-url be another machine: the texts then leave this one."),
    llm_cache_dir: Optional[Path] = typer.Option(None, "--llm-cache-dir", help="Folder for the LLM answer cache (it holds the texts); no cache by default."),
    llm_api_key_env: Optional[str] = typer.Option(None, "--llm-api-key-env", help="Name of the environment variable holding the LLM server's bearer key."),
    encoder_backend: Optional[str] = typer.Option(None, "--encoder-backend", help="Where the model's sentence encoder runs: torch, onnx or onnx-int8 "
                                                  "(ONNX Runtime, needs lived-themes[onnx]), or openvino (bfloat16 on CPUs that have it, "
                                                  "needs lived-themes[openvino]); exported into the model folder on first use. "
                                                  "Default: $LIVED_THEMES_ENCODER_BACKEND, else torch. See docs/encoder-backends.md."),
) -> None:
    """Apply a saved model to a file: one JSON line per input row, in input order; no row is dropped."""
    from lived_themes.coders.onnx_backend import BACKENDS, backend_precision, current_backend, encoder_backend as backend_in_force
    from lived_themes.predict import predict_file

    if encoder_backend is not None and encoder_backend not in BACKENDS:
        raise typer.BadParameter(f"expected one of {', '.join(BACKENDS)}, got {encoder_backend!r}", param_hint="--encoder-backend")
    settings = {key: value for key, value in (("base_url", llm_base_url), ("cache_dir", llm_cache_dir), ("api_key_env", llm_api_key_env),
                                              ("allow_remote", allow_remote or None)) if value is not None}
    text_column, id_column = _predict_columns(input, text_column, id_column, experiment, model_dir)
    with backend_in_force(encoder_backend):
        used = current_backend()
        count = predict_file(model_dir, input, output, text_column=text_column, id_column=id_column, evidence=evidence, settings=settings)
    typer.echo(f"{count} rows -> {'standard output' if is_stdout(output) else output} (encoder backend: {used}, {backend_precision(used)})",
               err=is_stdout(output))


@app.command()
@located_errors(ValueError, ImportError)
def code(
    input: Path = typer.Argument(..., help="A corpus folder (e.g. an imported uncoded REFI-QDA project) or a CSV, TSV, JSONL or Parquet file of texts."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write one row per input row (predict's format): Parquet for .parquet, else JSON lines; - for standard output."),
    codebook: Optional[Path] = typer.Option(None, "--codebook", help="The codebook (YAML) whose definitions the coder reads; default: the corpus folder's codebook.yaml."),
    coder: str = typer.Option("codebook-similarity.v1", "--coder", help="A zero-shot coder: codebook-similarity.v1 (sentence embeddings) or llm.v1 (a local LLM server)."),
    param: list[str] = typer.Option([], "--param", help="A coder parameter as key=value (repeatable), e.g. threshold=0.4, label_mode=single, encoder=PATH, base_url=http://127.0.0.1:8080/v1."),
    text_column: str = typer.Option("text", help="Column holding the text (a corpus folder: text)."),
    id_column: Optional[str] = typer.Option("quote_id", help="Column holding the row id (a corpus folder: quote_id)."),
    evidence: bool = typer.Option(True, "--evidence/--no-evidence", help="Give each code the span of the text that most supports it."),
) -> None:
    """Zero-shot coding from a codebook alone (no coder's labels needed): one row per input row, ready for `export --predictions`."""
    import yaml

    from lived_themes.workflows.code import code_uncoded

    params: dict[str, object] = {}
    for item in param:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected key=value, got {item!r}", param_hint="--param")
        params[key.strip()] = yaml.safe_load(value) if value.strip() else None
    done = code_uncoded(input, output, codebook=codebook, coder=coder, params=params, text_column=text_column,
                        id_column=id_column, evidence=evidence)
    typer.echo(f"{done['rows']} rows coded by {done['coder']} ({done['label_mode']}-label, {done['codes']} codes from "
               f"{done['codebook']}, no reference coder) -> {'standard output' if is_stdout(output) else output}", err=is_stdout(output))


@app.command("model-info")
@located_errors()
def model_info(
    model_dir: Path = typer.Argument(..., help="A saved model folder, or a run folder holding model/."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Show what a model folder holds before you share it: coder, codes, files, training text, training ids, checksum. Loads no model."""
    import json

    from lived_themes.coders.model_info import describe_model, format_model_info

    info = describe_model(model_dir)
    typer.echo(json.dumps(info, indent=2, ensure_ascii=False) if as_json else format_model_info(info))


def _predict_columns(input: Path, text_column: Optional[str], id_column: Optional[str],
                     experiment: Optional[Path], model_dir: Optional[Path] = None) -> tuple[str, Optional[str]]:
    """--text-column / --id-column, else the experiment's mapping, else the columns the model was trained with
    (its training_columns.json) where the input has them, else text / quote_id. With a mapping or remembered
    columns, an input without the id column gets row numbers."""
    if experiment is not None:
        mapping = _experiment_data(experiment).column_mapping
        inverse = {target: source for source, target in mapping.items()}
        text = text_column or inverse.get("text", "text")
        if id_column is not None:
            return text, id_column
        wanted = inverse.get("quote_id", "quote_id")
        from lived_themes.corpus import read_table

        frame, _ = read_table(input)
        return text, wanted if wanted in frame.columns else None
    from lived_themes.coders.model_info import read_training_columns
    from lived_themes.predict.local import model_folder

    remembered = read_training_columns(model_folder(model_dir)) if model_dir is not None else None
    if remembered is None or (text_column is not None and id_column is not None):
        return text_column or "text", id_column or "quote_id"
    columns = _input_columns(input)
    if columns is None:  # unreadable: predict reports it, by file and row
        return text_column or "text", id_column or "quote_id"
    text = text_column or (remembered["text_column"] if remembered["text_column"] in columns else "text")
    if id_column is not None:
        return text, id_column
    for wanted in (remembered["id_column"], "quote_id"):
        if wanted and wanted in columns:
            return text, wanted
    return text, None


def _input_columns(input: Path) -> Optional[list[str]]:
    """The input's column names from its first rows only (the file is read a chunk at a time later)."""
    from lived_themes.predict.stream import iter_chunks, peek

    try:
        _, chunks = iter_chunks(input, 64)
        (_, first), _ = peek(chunks)
    except (LivedThemesError, OSError, ValueError, StopIteration):
        return None
    return [str(c) for c in first.columns]


@app.command()
@located_errors(ValueError)
def evaluate(
    annotations: Path = typer.Option(..., help="Human annotations: long table (quote_id, coder, code)."),
    predictions: Path = typer.Option(..., help="Model predictions: `lived-themes predict` output, a long table (quote_id, code; a run's model_annotations.csv), a run's predictions.jsonl, or a run folder."),
    reference: str = typer.Option(..., help="Reference coder (or consensus:majority / consensus:union)."),
    quotes: Optional[Path] = typer.Option(None, help="Quotes table with group columns (for per-group figures)."),
    column_mapping: list[str] = typer.Option([], "--column-mapping", help="Rename a quotes column: 'Respondent=quote_id' (repeatable)."),
    annotation_mapping: list[str] = typer.Option([], "--annotation-mapping", help="Rename an annotations column: 'Rater=coder' (repeatable)."),
    cluster: Optional[str] = typer.Option(None, "--cluster", help="Quotes column of participant ids: intervals resample whole participants ('group' resamples the groups)."),
    codebook: Optional[Path] = typer.Option(None, help="Codebook YAML (default: the codes found in the files)."),
    groups: list[str] = typer.Option([], "--group", help="Group column(s) to break figures down by."),
    model_name: str = typer.Option("external", help="Name for the model in the report."),
    out: Optional[Path] = typer.Option(None, "--out", help="New or empty folder for metrics.json and the report (default: runs/evaluate/<timestamp>/)."),
    n_boot: int = typer.Option(1000, help="Bootstrap resamples for confidence intervals."),
    model: Optional[Path] = typer.Option(None, "--model", help="Model (or run) folder that made the predictions: warns if evaluated quotes were in its training data."),
    min_report_group_size: int = typer.Option(5, min=1, help="Privacy floor: smaller groups are reported as 'suppressed (n < N)', never by name; 1 turns it off."),
    allow_free_text: list[str] = typer.Option([], "--allow-free-text-column", help="A --group column meant as groups although its values look like free text (repeatable; never the text column)."),
) -> None:
    """Evaluate predictions made elsewhere against human coders, by group."""
    from lived_themes.workflows.evaluate import evaluate_external

    if out is not None:
        refuse_overwrite(out, [annotations, predictions, quotes, codebook, model], folder=True)
    run_dir = evaluate_external(annotations=annotations, predictions=predictions, reference=reference, quotes=quotes,
                                codebook=codebook, groups=groups, model_name=model_name, out=out, n_boot=n_boot,
                                model=model, min_report_group_size=min_report_group_size, cluster=cluster,
                                column_mapping=_mapping(column_mapping, "--column-mapping"),
                                annotation_mapping=_mapping(annotation_mapping, "--annotation-mapping"),
                                allow_free_text=allow_free_text)
    _print_headline(run_dir)
    typer.echo(str(run_dir))


@app.command()
@located_errors(ValueError)
def init(
    data: Path = typer.Argument(..., help="Your CSV (or TSV, JSONL, Parquet): one row per quote, its codes as 0/1 columns or a label column."),
    experiment: Optional[Path] = typer.Option(None, "--experiment", "-o", help="Experiment YAML to write (default: <data name>.yaml here)."),
    codebook_out: Optional[Path] = typer.Option(None, "--codebook", help="Codebook YAML to write (default: <data name>.codebook.yaml here)."),
    text_column: Optional[str] = typer.Option(None, help="The text column (default: the column with the longest cells)."),
    label_column: Optional[str] = typer.Option(None, help="The label column (default: 0/1 columns as codes, else a column with few distinct values)."),
    group: list[str] = typer.Option([], "--group", help="Group column(s) to break results down by (default: columns with a few repeated values)."),
) -> None:
    """Write a starter experiment YAML and codebook from a data file, each guess explained in a comment; never overwrites."""
    import os

    from lived_themes.workflows.starter import detect_layout, read_header, starter_files

    stem = data.stem
    experiment = experiment or Path(f"{stem}.yaml")
    codebook_out = codebook_out or Path(f"{stem}.codebook.yaml")
    refuse_overwrite(experiment, [data, codebook_out])
    refuse_overwrite(codebook_out, [data])
    existing = [str(p) for p in (experiment, codebook_out) if p.exists()]
    if existing:
        raise FileExistsError(f"{', '.join(existing)} already exist(s); init never overwrites: remove it or choose --experiment / --codebook")
    frame, encoding = read_header(data)
    layout = detect_layout(frame, text_column=text_column, label_column=label_column, groups=group or None, encoding=encoding)
    here = experiment.resolve().parent
    data_path = os.path.relpath(data.resolve(), here)
    book_path = os.path.relpath(codebook_out.resolve(), here)
    name = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in stem) or "experiment"
    experiment_text, codebook_text = starter_files(data_path, layout, name=name, codebook_path=book_path)
    write_text_atomic(codebook_out, codebook_text)
    write_text_atomic(experiment, experiment_text)
    for key in ("text", "id", "codes", "names", "groups", "person", "encoding"):
        if key in layout.why:
            typer.echo(f"{key}: {layout.why[key]}")
    for column, why_not in layout.refused.items():
        typer.echo(f"not a split or group: {column!r}: {why_not}")
    if layout.context_columns:
        typer.echo(f"context: {layout.context_columns} could be read with each text (see the comment in {experiment})")
    if layout.single_label:
        typer.echo("single-label data: every row has at most one code (label_mode: auto)")
    first = experiment_text.splitlines()[2]
    typer.echo(first.removeprefix("# "))
    typer.echo(f"-> {experiment} and {codebook_out}; check the guesses, then: lived-themes run {experiment}")


@app.command()
@located_errors(ValueError)
def agree(
    source: Path = typer.Argument(..., help="A corpus folder (or a quotes file with --annotations), or a REFI-QDA project (.qdpx / .qde)."),
    output: Path = typer.Option(..., "--output", "-o", help="The Markdown report to write; the same figures go to the same name with .json."),
    annotations: Optional[Path] = typer.Option(None, help="Long annotations file, when SOURCE is a quotes file."),
    codebook: Optional[Path] = typer.Option(None, help="Codebook YAML."),
    coder: list[str] = typer.Option([], "--coder", help="A coder to compare (repeatable; default: every human coder, never a model, consensus or adjudicated reference)."),
    group: list[str] = typer.Option([], "--group", help="Group column(s) to break agreement down by (a REFI-QDA project: its sources and variables by default)."),
    unit: str = typer.Option("paragraph", help="REFI-QDA only: what a unit is (paragraph, sentence, document or segment)."),
    column_mapping: list[str] = typer.Option([], "--column-mapping", help="Rename a quotes column: 'Your column=text' (repeatable)."),
    annotation_mapping: list[str] = typer.Option([], "--annotation-mapping", help="Rename an annotations column: 'Rater=coder' (repeatable)."),
    min_report_group_size: int = typer.Option(5, min=1, help="Privacy floor: groups with fewer quotes are pooled as 'suppressed (n < N)', never named; 1 turns it off."),
    allow_free_text: list[str] = typer.Option([], "--allow-free-text-column", help="A --group column meant as groups although its values look like free text (repeatable; never the text column)."),
) -> None:
    """Human–human agreement only (per code, and per source or group: Cohen's κ, % agreement, Krippendorff's α, Gwet's AC1); trains nothing."""
    from rich.table import Table as RichTable

    from lived_themes.workflows.agree import (HEADERS, agreement_document, checked_groups, load_for_agreement, report_paths, table_rows,
                                              write_agreement)

    md_path, json_path = report_paths(output)
    for path in (md_path, json_path):
        refuse_overwrite(path, [source, annotations, codebook])
    corpus, qda_groups = load_for_agreement(source, annotations=annotations, codebook=codebook, unit=unit,
                                            column_mapping=_mapping(column_mapping, "--column-mapping"),
                                            annotation_mapping=_mapping(annotation_mapping, "--annotation-mapping"))
    groups, notes = checked_groups(corpus, list(group), qda_groups, allowed=allow_free_text)
    for note in notes:
        typer.echo(f"warning: {note}", err=True)
    document = agreement_document(corpus, coders=list(coder) or None, groups=groups, min_report_group_size=min_report_group_size,
                                  source=str(source))
    write_agreement(document, md_path)
    table = RichTable(*HEADERS, title=f"Agreement of {', '.join(document['coders'])} per code")
    for row in table_rows(document):
        table.add_row(*row)
    _console().print(table)
    for column in document["groups"]:
        by = RichTable(column, *HEADERS[1:], title=f"By {column} (mean over codes)")
        for row in table_rows(document, column):
            by.add_row(*row)
        _console().print(by)
    typer.echo(f"-> {md_path} and {json_path}")


@app.command("import")
@located_errors(ValueError)
def import_(
    project: Path = typer.Argument(..., help="REFI-QDA project (.qdpx, or a bare .qde) or codebook (.qdc) from NVivo, ATLAS.ti, MAXQDA, QualCoder."),
    output: Path = typer.Option(..., "--output", "-o", help="New or empty folder for the corpus (quotes, annotations, codebook.yaml)."),
    unit: str = typer.Option("segment", help="What a quote is: segment (each coded range), paragraph, sentence or document."),
    offsets: str = typer.Option("auto", help="How the project counts positions: auto (NVivo: UTF-16 units), chars or utf16."),
    format: str = typer.Option("jsonl", help="Table format for the corpus: jsonl, csv, tsv or parquet."),
) -> None:
    """Bring coding in from a QDA program: text sources, codebook and each user's coded segments as a corpus."""
    from lived_themes.interop.folder import check_target, write_codebook_folder, write_import

    refuse_overwrite(output, [project], folder=True)
    check_target(output)
    if project.suffix.lower() == ".qdc":
        from lived_themes.interop import read_qdc

        book, notes = read_qdc(project)
        write_codebook_folder(book, notes, output, source=str(project))
        typer.echo(f"codebook {book.name}: {len(book.codes)} codes -> {output / 'codebook.yaml'}")
        return
    from lived_themes.interop import import_project

    from lived_themes.interop.folder import project_fingerprint

    result = import_project(project, unit=unit, offsets=offsets)
    result.report.update(project_fingerprint(project))
    write_import(result, output, format=format)
    r = result.report
    typer.echo(f"{r['text_codings']} text codings in {r['text_selections']} selections -> {r['quotes']} quotes ({r['unit']}), "
               f"{len(r['coders'])} coder(s), {r['codes']} codes; {r['codings_imported']} codings imported, "
               f"{sum(r['set_aside'].values())} set aside, {len(r['missing_sources'])} source(s) missing, "
               f"{r['media_codings_not_imported']} media coding(s) not imported -> {output}")
    for missing in r["missing_sources"]:
        typer.echo(f"  missing source {missing['source']!r}: {missing['reason']} ({missing['codings']} coding(s) set aside)")
    if r.get("uncoded"):
        typer.echo(f"  uncoded project: {r['text_sources_read']} text source(s), {r['codes']} code(s), no coding yet; "
                   f"{r['quotes']} {r['unit']} quote(s) to code (lived-themes review, or a zero-shot coder)"
                   + (f"; --unit {r['unit_requested']} has no segments without codings, so quotes are paragraphs"
                      if r["unit_requested"] != r["unit"] else ""))
    if r.get("sparse_codes"):
        typer.echo(f"  warning: {len(r['sparse_codes'])} code(s) have fewer than {r['sparse_below']} coded quotes "
                   f"(too few to learn or score well; data.min_code_count leaves them out of training and scoring): "
                   f"{', '.join(r['sparse_codes'][:10])}" + (" ..." if len(r["sparse_codes"]) > 10 else ""))


@app.command()
@located_errors(ValueError)
def export(
    corpus: Path = typer.Argument(..., help="A corpus folder (from `import` or any corpus folder)."),
    output: Path = typer.Option(..., "--output", "-o", help="The .qdpx project to write."),
    predictions: Optional[Path] = typer.Option(None, help="Model codes to add as user model:<name>: predict output, a run folder or its predictions.jsonl, or a long table."),
    model_name: str = typer.Option("model", help="Name of the model's user when the predictions do not name it."),
    codebook_out: Optional[Path] = typer.Option(None, "--codebook", help="Also write the codebook as a REFI-QDA .qdc file here."),
    offsets: str = typer.Option("chars", help="Positions in characters (chars) or UTF-16 units (utf16, for NVivo)."),
) -> None:
    """Send codes back to a QDA program: a .qdpx with every coder (and the model) as a user, for review."""
    from lived_themes.corpus import load_corpus
    from lived_themes.interop.folder import read_sources
    from lived_themes.interop.predictions import read_model_spans, with_model_codes
    from lived_themes.interop.folder import export_inputs, imported_users, read_ids
    from lived_themes.interop.writer import export_project, write_qdc

    export_inputs(corpus, output, predictions=predictions, codebook_out=codebook_out)  # no output may be an input
    loaded = load_corpus(corpus)
    sources = read_sources(corpus) if corpus.is_dir() else None
    spans = None
    if predictions is not None:
        loaded = with_model_codes(loaded, predictions, model_name=model_name)
        spans = read_model_spans(predictions, model_name=model_name)  # the model's evidence becomes its coded segment
    summary = export_project(loaded, output, sources=sources, offsets=offsets, spans=spans,
                             users=imported_users(corpus) if corpus.is_dir() else None,
                             kept=read_ids(corpus) if corpus.is_dir() else None)
    if codebook_out is not None and loaded.codebook is not None:
        write_qdc(loaded.codebook, codebook_out)
    typer.echo(f"{summary['documents']} document(s), {summary['selections']} selection(s), {summary['codings']} coding(s) by "
               f"{len(summary['users'])} user(s) {summary['users']} -> {output}" + (f"; codebook -> {codebook_out}" if codebook_out else ""))
    for note in summary["notes"]:
        typer.echo(f"  note: {note}")


@app.command()
@located_errors(ValueError)
def adjudicate(
    run_dir: Path = typer.Argument(..., help="A run folder with disagreements.csv (its decision column filled in)."),
    output: Path = typer.Option(..., "--output", "-o", help="New corpus folder: the original annotations plus the adjudicated coder."),
    decisions: Optional[Path] = typer.Option(None, help="Decisions table (quote_id, code, decision) instead of the run's disagreements.csv."),
    coder: str = typer.Option("adjudicated", help="Name of the new coder."),
    undecided: str = typer.Option("majority", help="Disagreements left undecided: 'majority' (a strict human majority fills them; ties stay open, listed in undecided.csv) or 'error'."),
) -> None:
    """Read the researcher's decisions back as a coder, usable as the reference of the next run."""
    from lived_themes.workflows.adjudicate import adjudicate_run

    refuse_overwrite(output, [run_dir, decisions], folder=True)
    out = adjudicate_run(run_dir, output, decisions=decisions, coder=coder, undecided=undecided, base_dir=Path.cwd())
    typer.echo(f"{out['decided']} decision(s), {out['filled_by_strict_majority']} undecided disagreement(s) filled by a strict "
               f"human majority, {out['quotes']} quote(s) coded by {out['coder']} -> {out['output']}")
    if out["ties_undecided"]:
        typer.echo(f"{out['ties_undecided']} tie(s) left for a human to decide, not filled: {out['quotes_left_for_ties']} quote(s) "
                   f"not coded by {out['coder']} until decided; listed in {out['undecided_file']} (decide them in the run's "
                   "disagreements.csv and run adjudicate again)")
    typer.echo(f"next run: --set data.format=corpus --set data.path={out['output']} --set reference.coder={out['coder']}")


@app.command()
@located_errors(ValueError, KeyError, ImportError)
def review(
    folder: Path = typer.Argument(..., help="The review folder (created on the first round): settings, labels, rounds log, batches."),
    corpus: Optional[Path] = typer.Option(None, help="The corpus to review (first round; remembered in review.json)."),
    codes: Optional[Path] = typer.Option(None, "--codes", help="The researcher's codes for the last batch: the batch CSV filled in, or the batch .qdpx coded in a QDA program."),
    coder: Optional[str] = typer.Option(None, help="Registered coder to retrain each round (default tfidf-logreg.v1)."),
    strategy: Optional[str] = typer.Option(None, help="random, uncertainty-mean, uncertainty-max, cardinality, cvirs, kmeans, coreset, weighted-kmeans (default), cluster-margin."),
    batch_size: Optional[int] = typer.Option(None, help="Quotes per batch (default 50)."),
    features: Optional[str] = typer.Option(None, help="Vectors for diversity: tfidf (default) or embeddings."),
    reviewer: Optional[str] = typer.Option(None, help="Coder name for returned codes when the file does not name one (default 'reviewer')."),
    reference: Optional[str] = typer.Option(None, help="Coder whose codes train first when several coded a quote."),
    held_out_fraction: Optional[float] = typer.Option(None, help="Share of the already coded quotes kept out of training to score each round (fixed at the first round)."),
    recode: Optional[int] = typer.Option(None, help="Also propose this many coded quotes for a second coder, where coder and model disagree most."),
    seed: Optional[int] = typer.Option(None, help="Seed for the held-out draw and the strategies."),
    label_mode: Optional[str] = typer.Option(None, "--label-mode", help="multi (default), single (each quote its top code or none) or auto "
                                             "(single when every coded quote has at most one code); remembered in review.json."),
) -> None:
    """Active learning: read the researcher's codes back, retrain, log the round, and propose the next batch to code."""
    from lived_themes.workflows.review import review_round

    refuse_overwrite(folder, [corpus], folder=True)
    options = {"corpus": str(corpus) if corpus else None, "coder": coder, "strategy": strategy, "batch_size": batch_size,
               "features": features, "reviewer": reviewer, "reference": reference, "held_out_fraction": held_out_fraction,
               "recode": recode, "seed": seed, "label_mode": label_mode}
    record = review_round(folder, returned=codes, progress=lambda message: typer.echo(message), **options)
    f1 = "-" if record["macro_f1"] is None else f"{record['macro_f1']:.3f}"
    if record.get("macro_f1_ci"):
        f1 += f" [{record['macro_f1_ci'][0]:.2f}, {record['macro_f1_ci'][1]:.2f}] ({record['ci']:.0%} bootstrap over held-out quotes)"
    single = record.get("single_label")
    if single:
        kappa = "-" if single.get("kappa") is None else f"{single['kappa']:.2f}"
        f1 += f", kappa {kappa}, agreement {single['percent_agreement']:.2f}"
    typer.echo(f"round {record['round']}: {record['label_mode']}-label, trained on {record['labels_used']} coded quotes, macro-F1 {f1} on {record['held_out']} held out; "
               f"{len(record['proposed'])} quotes proposed ({record['strategy_used']})"
               + (f", {len(record['recode'])} for a second coder" if record.get("recode") else ""))
    for path in record["files"]:
        typer.echo(f"  -> {path}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
