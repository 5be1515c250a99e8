"""The ``lived-themes`` command: a thin typer wrapper over the package's plain functions.

Heavy modules are imported inside each command so that ``--help`` answers at once.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Learn qualitative codes from annotated quotes, and measure how far a model can be trusted, and for whom.",
)


def _fail(exc: Exception) -> None:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


def _console():
    from rich.console import Console

    return Console(stderr=False)


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details (never quote text).")) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not verbose:  # the runner prints its own progress; the libraries' per-batch bars would drown it
        for name in ("HF_HUB_DISABLE_PROGRESS_BARS", "HF_DATASETS_DISABLE_PROGRESS_BARS", "TQDM_DISABLE"):
            os.environ.setdefault(name, "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


@app.command()
def extract(
    report: Path = typer.Argument(..., help="Consultation report (Markdown)."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the quotes (.jsonl, .csv or .parquet)."),
    pipeline: Optional[str] = typer.Option(None, help="A named installed spaCy pipeline (e.g. en_core_web_sm); default: blank English."),
    id_prefix: Optional[str] = typer.Option(None, help="Prefix for quote ids (default: the report's file name)."),
) -> None:
    """Extract every verbatim quote from a consultation report, with section, line and speaker notation."""
    from lived_themes.corpus import write_table
    from lived_themes.errors import LivedThemesError
    from lived_themes.extract import extract_quotes

    try:
        quotes = extract_quotes(report, pipeline=pipeline, id_prefix=id_prefix)
    except (LivedThemesError, FileNotFoundError, ValueError) as exc:
        _fail(exc)
    if output.suffix == ".jsonl":
        from lived_themes.extract import write_quotes_jsonl

        write_quotes_jsonl(quotes, output)
    else:
        write_table(quotes, output)
    by_source = quotes["source"].value_counts().to_dict() if "source" in quotes else {}
    typer.echo(f"{len(quotes)} quotes ({', '.join(f'{v} {k}' for k, v in by_source.items())}) -> {output}")


@app.command()
def describe(
    corpus: Path = typer.Argument(..., help="A corpus folder (quotes.*, annotations.*, codebook.yaml) or a quotes file."),
    annotations: Optional[Path] = typer.Option(None, help="Long annotations file, when CORPUS is a quotes file."),
    codebook: Optional[Path] = typer.Option(None, help="Codebook YAML."),
    by: list[str] = typer.Option([], "--by", help="Group column(s) to break counts down by (default: all low-cardinality metadata)."),
) -> None:
    """Counts per code, per coder and per group value, as tables in the terminal."""
    from lived_themes.corpus import load_corpus
    from lived_themes.corpus.describe import render_description
    from lived_themes.errors import LivedThemesError

    try:
        loaded = load_corpus(corpus, annotations, codebook=codebook)
    except (LivedThemesError, FileNotFoundError, ValueError) as exc:
        _fail(exc)
    render_description(loaded, by=by or None, console=_console())


@app.command()
def codebook(
    path: Path = typer.Argument(..., help="Codebook YAML."),
    markdown: Optional[Path] = typer.Option(None, "--markdown", "-o", help="Write the Markdown table here (default: print it)."),
) -> None:
    """Validate a codebook, print its content hash, and export it as a Markdown table for papers."""
    from lived_themes.codebook import load_codebook
    from lived_themes.errors import LivedThemesError

    try:
        book = load_codebook(path)
    except LivedThemesError as exc:
        _fail(exc)
    table = book.to_markdown()
    if markdown:
        markdown.write_text(table, encoding="utf-8")
        typer.echo(f"{book.name} {book.version}: {len(book.codes)} codes, hash {book.content_hash()} -> {markdown}")
    else:
        typer.echo(table)


@app.command()
def run(
    experiment: Path = typer.Argument(..., help="Experiment YAML (only its differences from configs/defaults.yaml)."),
    set_: list[str] = typer.Option([], "--set", help="Override a config value: key.sub=value (repeatable)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run folder (default: runs/<experiment>/<timestamp>/)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
) -> None:
    """Run an experiment: load, split, fit, predict, evaluate, and write a run folder. Prints the folder last."""
    from lived_themes.experiment.config import is_topic_experiment, load_config
    from lived_themes.errors import LivedThemesError
    from lived_themes.experiment.coding import run_experiment

    if is_topic_experiment(experiment):
        topics(experiment, set_=set_, out=out)
        return
    try:
        config = load_config(experiment, overrides=set_)
    except LivedThemesError as exc:
        _fail(exc)
    console = _console()
    progress = None if quiet else (lambda message: console.log(message))
    try:
        run_dir = run_experiment(config, out_dir=out, base_dir=experiment.resolve().parent, progress=progress)
    except (LivedThemesError, ValueError, KeyError, ImportError) as exc:
        _fail(exc)
    if not quiet:
        _print_headline(run_dir)
    typer.echo(str(run_dir))


@app.command()
def topics(
    experiment: Path = typer.Argument(..., help="Topic experiment YAML (e.g. experiments/nsun2014_topics.yaml)."),
    set_: list[str] = typer.Option([], "--set", help="Override a config value: key.sub=value (repeatable)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run folder (default: runs/<experiment>/<timestamp>/)."),
) -> None:
    """Fit topic models (BERTopic, LDA, NMF), align them with human codes, and write tables and figures."""
    from lived_themes.experiment.config import read_yaml_with_overrides
    from lived_themes.errors import LivedThemesError

    try:
        raw = read_yaml_with_overrides(experiment, set_)
        from lived_themes.experiment.topics import resolve_config, run_topics

        resolve_config(raw, where=str(experiment))  # config errors before any data is read
        run_dir = run_topics(raw, out_dir=out)
    except (LivedThemesError, ValueError, KeyError, ImportError, FileNotFoundError) as exc:
        _fail(exc)
    typer.echo(str(run_dir))


def _print_headline(run_dir: Path) -> None:
    import json

    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    try:
        from lived_themes.report.build import headline_table
    except ImportError:
        return
    typer.echo(headline_table(metrics))


@app.command()
def predict(
    model_dir: Path = typer.Argument(..., help="A saved model folder (e.g. runs/<exp>/<time>/model)."),
    input: Path = typer.Argument(..., help="CSV, TSV, JSONL or Parquet file of texts."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write one JSON object per input row."),
    text_column: str = typer.Option("text", help="Column holding the text."),
    id_column: str = typer.Option("quote_id", help="Column holding the row id."),
) -> None:
    """Apply a saved model to a file: one JSON line per input row, in input order; no row is dropped."""
    from lived_themes.errors import LivedThemesError
    from lived_themes.predict import predict_file

    try:
        count = predict_file(model_dir, input, output, text_column=text_column, id_column=id_column)
    except (LivedThemesError, FileNotFoundError) as exc:
        _fail(exc)
    typer.echo(f"{count} rows -> {output}")


@app.command()
def evaluate(
    annotations: Path = typer.Option(..., help="Human annotations: long table (quote_id, coder, code)."),
    predictions: Path = typer.Option(..., help="Model predictions: `lived-themes predict` output (id, codes, scores) or a long table."),
    reference: str = typer.Option(..., help="Reference coder (or consensus:majority / consensus:union)."),
    quotes: Optional[Path] = typer.Option(None, help="Quotes table with group columns (for per-group figures)."),
    codebook: Optional[Path] = typer.Option(None, help="Codebook YAML (default: the codes found in the files)."),
    groups: list[str] = typer.Option([], "--group", help="Group column(s) to break figures down by."),
    model_name: str = typer.Option("external", help="Name for the model in the report."),
    out: Path = typer.Option(Path("runs/evaluate"), "--out", help="Folder for metrics.json and the report."),
    n_boot: int = typer.Option(1000, help="Bootstrap resamples for confidence intervals."),
) -> None:
    """Evaluate predictions made elsewhere against human coders, by group."""
    from lived_themes.errors import LivedThemesError
    from lived_themes.experiment.evaluate import evaluate_external

    try:
        run_dir = evaluate_external(annotations=annotations, predictions=predictions, reference=reference, quotes=quotes,
                                    codebook=codebook, groups=groups, model_name=model_name, out=out, n_boot=n_boot)
    except (LivedThemesError, FileNotFoundError, ValueError) as exc:
        _fail(exc)
    _print_headline(run_dir)
    typer.echo(str(run_dir))


@app.command()
def adjudicate(
    run_dir: Path = typer.Argument(..., help="A run folder with disagreements.csv (its decision column filled in)."),
    output: Path = typer.Option(..., "--output", "-o", help="New corpus folder: the original annotations plus the adjudicated coder."),
    decisions: Optional[Path] = typer.Option(None, help="Decisions table (quote_id, code, decision) instead of the run's disagreements.csv."),
    coder: str = typer.Option("adjudicated", help="Name of the new coder."),
    undecided: str = typer.Option("majority", help="Disagreements left undecided: 'majority' (human majority) or 'error'."),
) -> None:
    """Read the researcher's decisions back as a coder, usable as the reference of the next run."""
    from lived_themes.errors import LivedThemesError
    from lived_themes.experiment.adjudicate import adjudicate_run

    try:
        out = adjudicate_run(run_dir, output, decisions=decisions, coder=coder, undecided=undecided, base_dir=Path.cwd())
    except (LivedThemesError, FileNotFoundError, ValueError) as exc:
        _fail(exc)
    typer.echo(f"{out['decided']} decision(s), {out['undecided_filled_by_majority']} undecided disagreement(s) filled by the "
               f"human majority, {out['quotes']} quote(s) coded by {out['coder']} -> {out['output']}")
    typer.echo(f"next run: --set data.format=corpus --set data.path={out['output']} --set reference.coder={out['coder']}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
