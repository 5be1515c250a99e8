"""Second probe round (../shared/reliability/probe-failures-2.md), issue 22: quote text in aggregates, decisions that mean
what they say. Rows G35b, E05, E07, D04, PV05, I06, V03, K05, A00, T01, T02, T05: one test (or more) each, named by row."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from .conftest import assert_located, invoke

MARKER = "ZQXMARKER"
PROBE_CODES = ["waiting", "medication", "listened", "peer"]
WORDS = ["the ward", "my GP", "the crisis team", "the pharmacy", "group therapy", "the night staff"]


def _texts(n: int = 30) -> list[str]:
    return [f"{MARKER} I spoke about {WORDS[i % 6]} and what happened on visit {i} to me" for i in range(n)]


def _probe_corpus(folder: Path, *, texts: list[str] | None = None, ties: bool = False) -> Path:
    """30 quotes (site, gender, participant: 15 people), coders ana and ben; ``ties``: ben disagrees with ana on 20 quotes."""
    folder.mkdir(parents=True)
    texts = texts or _texts()
    quotes = pd.DataFrame({"quote_id": [f"q{i:03d}" for i in range(30)], "text": texts,
                           "site": [["north", "south", "east"][i % 3] for i in range(30)],
                           "gender": [["f", "m"][i % 2] for i in range(30)],
                           "participant": [f"p{i // 2:02d}" for i in range(30)]})
    quotes.to_csv(folder / "quotes.csv", index=False)
    rows = []
    for i in range(30):
        ana = PROBE_CODES[i % 4]
        rows.append((f"q{i:03d}", "ana", ana))
        ben = PROBE_CODES[(i + 1) % 4] if ties and i < 20 else ana
        rows.append((f"q{i:03d}", "ben", ben))
    pd.DataFrame(rows, columns=["quote_id", "coder", "code"]).to_csv(folder / "annotations.csv", index=False)
    (folder / "codebook.yaml").write_text("name: probe\nversion: '1'\ncodes:\n" + "".join(f"  - id: {c}\n    label: {c}\n" for c in PROBE_CODES),
                                          encoding="utf-8")
    return folder


def _experiment(path: Path, data: str, *, extra: str = "") -> Path:
    path.write_text(
        f"name: probe\nseed: 0\ndata:\n  path: {data}\n{extra}reference:\n  coder: ana\n"
        "splits:\n  - kind: holdout\n    test_size: 0.3\ncoders:\n  - name: majority.v1\n"
        f"evaluation:\n  n_boot: 0\n  stability_seeds: []\noutput:\n  dir: {path.parent / 'runs'}\n  html: false\n  figures: false\n",
        encoding="utf-8",
    )
    return path


def _no_marker(folder: Path) -> None:
    for path in folder.rglob("*") if folder.exists() else []:
        if path.is_file():
            assert MARKER not in path.read_text(encoding="utf-8", errors="replace"), path


@pytest.fixture()
def same_text_corpus(tmp_path: Path) -> Path:
    """c17: all 30 quotes share one text, so a group 'text' has 30 members, above any privacy floor."""
    return _probe_corpus(tmp_path / "c17", texts=[f"{MARKER} the same words said by everyone in the room"] * 30)


# ----- free text as a group, a code or an id -----------------------------------------------------------------------------

def test_g35b_the_text_column_is_never_a_group_of_a_run(tmp_path: Path, same_text_corpus: Path) -> None:
    exp = _experiment(tmp_path / "g35b.yaml", str(same_text_corpus))
    out = tmp_path / "runs" / "g35b"
    line = assert_located(invoke("run", exp, "--out", out, "-q", "--set", "evaluation.groups=[text]"), "quotes.csv", "field 'text'",
                          "quote text column")
    assert MARKER not in line
    _no_marker(out)
    # the same run without the text group is fine
    result = invoke("run", exp, "--out", tmp_path / "runs" / "ok", "-q", "--set", "evaluation.groups=[site]")
    assert result.exit_code == 0, result.output


def test_e05_evaluate_refuses_the_text_column_as_a_group(tmp_path: Path, same_text_corpus: Path) -> None:
    preds = tmp_path / "model_annotations.csv"
    ann = pd.read_csv(same_text_corpus / "annotations.csv")
    ann[ann["coder"] == "ben"].assign(coder="model:majority.v1").to_csv(preds, index=False)
    out = tmp_path / "e05"
    result = invoke("evaluate", "--annotations", same_text_corpus / "annotations.csv", "--predictions", preds, "--reference", "ana",
                    "--quotes", same_text_corpus / "quotes.csv", "--group", "text", "--n-boot", "0", "--out", out)
    assert MARKER not in assert_located(result, "quotes.csv", "field 'text'")
    _no_marker(out)


def test_d04_describe_refuses_the_text_column_as_a_by_column(same_text_corpus: Path) -> None:
    result = invoke("describe", same_text_corpus, "--by", "text")
    assert_located(result, "field 'text'", "quote text column")
    assert MARKER not in result.output


def test_free_text_group_column_is_refused_unless_allowed(tmp_path: Path) -> None:
    corpus = _probe_corpus(tmp_path / "c")
    quotes = pd.read_csv(corpus / "quotes.csv")
    quotes["note"] = [f"{MARKER} a remark written about the quote number {i} by staff" for i in range(30)]
    quotes.to_csv(corpus / "quotes.csv", index=False)
    line = assert_located(invoke("describe", corpus, "--by", "note"), "field 'note'", "free text", "allow_free_text_columns")
    assert MARKER not in line
    assert invoke("describe", corpus, "--by", "note", "--allow-free-text-column", "note").exit_code == 0
    # the text column stays refused even when "allowed"
    assert_located(invoke("describe", corpus, "--by", "text", "--allow-free-text-column", "text"), "field 'text'")
    exp = _experiment(tmp_path / "g.yaml", str(corpus))
    assert_located(invoke("run", exp, "--out", tmp_path / "runs" / "g", "-q", "--set", "evaluation.groups=[note]"), "field 'note'")
    assert_located(invoke("run", exp, "--out", tmp_path / "runs" / "s", "-q", "--set", "splits=[{kind: leave_one_group_out, group: text}]"),
                   "field 'text'", "splits.0.group")
    # evaluate without --quotes: --group text is refused all the same
    ann = corpus / "annotations.csv"
    preds = tmp_path / "preds.csv"
    pd.read_csv(ann).query("coder == 'ben'").assign(coder="model:m").to_csv(preds, index=False)
    assert_located(invoke("evaluate", "--annotations", ann, "--predictions", preds, "--reference", "ana", "--group", "text",
                          "--n-boot", "0", "--out", tmp_path / "e"), "field 'text'")


def test_pv05_a_free_text_label_column_without_a_map_is_refused(tmp_path: Path) -> None:
    wide = tmp_path / "wide.csv"
    texts = _texts()
    pd.DataFrame({"quote_id": [f"q{i}" for i in range(30)], "text": texts, "comment": texts}).to_csv(wide, index=False)
    data = f"{wide}\n  format: wide\n  label_column: comment\n  coder: ana\n"
    exp = _experiment(tmp_path / "wl2.yaml", data)
    out = tmp_path / "runs" / "pv05"
    line = assert_located(invoke("run", exp, "--out", out, "-q"), "wide.csv", "field 'comment'", "label column", "free text")
    assert MARKER not in line
    _no_marker(out)
    # said to be intended: accepted (the loader, not a whole run)
    from lived_themes.corpus import load_labelled

    corpus = load_labelled(wide, label_column="comment", coder="ana", allow_free_text=["comment"])
    assert len(corpus.codes) == 30
    # short labels in the same column are fine
    pd.DataFrame({"quote_id": ["a", "b", "c"], "text": texts[:3], "comment": ["Fear", "Pity", "Fear"]}).to_csv(wide, index=False)
    assert load_labelled(wide, label_column="comment", coder="ana").codes == ["Fear", "Pity"]


def test_a_text_column_mapped_to_the_quote_id_is_refused(tmp_path: Path) -> None:
    wide = tmp_path / "wide.csv"
    pd.DataFrame({"text": _texts(), "remark": [t.replace("visit", "call") for t in _texts()],
                  "waiting": [i % 2 for i in range(30)]}).to_csv(wide, index=False)
    from lived_themes.errors import InputError
    from lived_themes.config.base import DataConfig
    from lived_themes.experiment.data import load_from_config

    data = DataConfig(path=str(wide), format="wide", code_columns=["waiting"], column_mapping={"remark": "quote_id"})
    with pytest.raises(InputError) as info:
        load_from_config(data)
    assert info.value.field == "quote_id" and MARKER not in str(info.value)
    assert len(load_from_config(data.model_copy(update={"allow_free_text_columns": ["quote_id"]}))) == 30


def test_the_free_text_rule() -> None:
    from lived_themes.corpus.free_text import looks_like_free_text

    assert looks_like_free_text(_texts())
    assert not looks_like_free_text(["Black, African, Caribbean or Black British", "White British", "Asian or Asian British"] * 10)
    assert not looks_like_free_text([f"participant_{i:04d}_interview_2023-01-01_question" for i in range(30)])  # long, no spaces
    assert not looks_like_free_text([f"NEAS PTS {i} - Q1" for i in range(30)])  # the NHS file's comment ids: codes, not words
    assert not looks_like_free_text(["north", "south"] * 15)
    assert not looks_like_free_text(["the same words said by everyone in the room"] * 30)  # one text: caught by name instead
    assert not looks_like_free_text([None, np.nan, ""])


# ----- E07: the annotations given as predictions -------------------------------------------------------------------------

def test_e07_evaluate_refuses_the_annotations_file_as_predictions(tmp_path: Path) -> None:
    corpus = _probe_corpus(tmp_path / "base")
    ann = corpus / "annotations.csv"
    result = invoke("evaluate", "--annotations", ann, "--predictions", ann, "--reference", "ana", "--n-boot", "0",
                    "--out", tmp_path / "e07")
    assert_located(result, "annotations.csv", "same file as --annotations")
    assert not (tmp_path / "e07").exists()
    # a copy that keeps the human coders' names is refused too, naming the coder column
    copy = tmp_path / "preds.csv"
    pd.read_csv(ann).iloc[::-1].to_csv(copy, index=False)
    result = invoke("evaluate", "--annotations", ann, "--predictions", copy, "--reference", "ana", "--n-boot", "0",
                    "--out", tmp_path / "e07b")
    assert_located(result, "preds.csv", "field 'coder'", "human coder")


# ----- I06: init and a person-id column ----------------------------------------------------------------------------------

def test_i06_init_takes_a_participant_column_as_the_cluster_never_as_labels(tmp_path: Path) -> None:
    corpus = _probe_corpus(tmp_path / "c07")
    data = tmp_path / "data.csv"
    quotes = pd.read_csv(corpus / "quotes.csv")
    quotes["theme"] = [PROBE_CODES[i % 4] for i in range(30)]
    quotes.drop(columns=["site", "gender"]).to_csv(data, index=False)
    for frame_columns, label in ((["quote_id", "text", "participant"], None), (["quote_id", "text", "participant", "theme"], "theme")):
        path = tmp_path / f"d{len(frame_columns)}.csv"
        pd.read_csv(data)[frame_columns].to_csv(path, index=False)
        result = invoke("init", path, "--experiment", tmp_path / f"e{len(frame_columns)}.yaml", "--codebook", tmp_path / f"b{len(frame_columns)}.yaml")
        if label is None:  # nothing but a person id left: no label column is guessed
            assert_located(result, "label-column")
            continue
        assert result.exit_code == 0, result.output
        import yaml

        config = yaml.safe_load((tmp_path / f"e{len(frame_columns)}.yaml").read_text(encoding="utf-8"))
        assert config["data"]["label_column"] == label
        assert config["evaluation"]["cluster"] == "participant" and "participant" not in config["evaluation"]["groups"]
        assert config["splits"][0] == {"kind": "group_kfold", "group": "participant", "n_splits": 5}


def test_i06_the_person_column_is_never_the_guessed_label_column() -> None:
    from lived_themes.workflows.starter import detect_layout

    frame = pd.DataFrame({"quote_id": [f"q{i}" for i in range(30)], "text": _texts(), "respondent_id": [f"r{i // 2}" for i in range(30)],
                          "site": [["a", "b", "c"][i % 3] for i in range(30)]})
    layout = detect_layout(frame)
    assert layout.label_column == "site" and layout.person_column == "respondent_id"
    # two values are roles, not people: no cluster, and still never the label column
    roles = frame.drop(columns=["respondent_id", "site"]).assign(speaker=["interviewer", "participant"] * 15,
                                                                 answer=["yes", "yes", "no"] * 10)
    layout = detect_layout(roles)
    assert layout.label_column == "answer" and layout.person_column is None


# ----- review: the lock (K05) and conflicting duplicates (V03) -----------------------------------------------------------

def _review_folder(tmp_path: Path) -> tuple[Path, Path]:
    corpus = _probe_corpus(tmp_path / "corpus")
    pd.read_csv(corpus / "annotations.csv").iloc[:20].to_csv(corpus / "annotations.csv", index=False)  # 10 quotes coded
    review = tmp_path / "rv"
    result = invoke("review", review, "--corpus", corpus, "--batch-size", "4", "--strategy", "random")
    assert result.exit_code == 0, result.output
    return review, review / "round-001" / "batch.csv"


def test_v03_the_same_quote_twice_with_conflicting_codes_is_refused(tmp_path: Path) -> None:
    review, batch = _review_folder(tmp_path)
    frame = pd.read_csv(batch, dtype=str, keep_default_na=False)
    first = frame.iloc[[0]].copy()
    first["waiting"] = "1"
    twin = frame.iloc[[0]].copy()
    twin["waiting"] = "0"
    twin["listened"] = "1"
    pd.concat([first, twin, frame.iloc[1:]]).to_csv(batch, index=False)
    line = assert_located(invoke("review", review, "--codes", batch), "batch.csv", "rows 2 and 3", "field 'quote_id'")
    assert MARKER not in line
    assert not (review / "labels.jsonl").exists()  # nothing read in
    # the same codes twice are one coding, not a conflict
    twin["waiting"], twin["listened"] = "1", ""
    pd.concat([first, twin]).to_csv(batch, index=False)
    assert invoke("review", review, "--codes", batch).exit_code == 0
    labels = [json.loads(line) for line in (review / "labels.jsonl").read_text(encoding="utf-8").splitlines()]
    assert labels == [{"quote_id": first["quote_id"].iloc[0], "coder": "reviewer", "code": "waiting"}]


def test_k05_a_second_review_round_is_refused_while_one_holds_the_lock(tmp_path: Path) -> None:
    review, batch = _review_folder(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from pathlib import Path
            from lived_themes.workflows.folder_lock import folder_lock
            with folder_lock(Path({str(review)!r}), name="review.lock", what="another review round"):
                print("held", flush=True)
                sys.stdin.readline()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        rounds_before = (review / "rounds.jsonl").read_text(encoding="utf-8")
        line = assert_located(invoke("review", review, "--codes", batch), "review.lock", "another review round is running",
                              f"pid {holder.pid}")
        assert (review / "rounds.jsonl").read_text(encoding="utf-8") == rounds_before and not (review / "round-002").exists()
        assert "Traceback" not in line
    finally:
        holder.communicate("\n", timeout=30)
    assert not (review / "review.lock").exists()  # released by its holder
    result = invoke("review", review, "--codes", batch)
    assert result.exit_code == 0, result.output
    rounds = [json.loads(line)["round"] for line in (review / "rounds.jsonl").read_text(encoding="utf-8").splitlines()]
    assert rounds == [1, 2]


@pytest.mark.slow  # two CLI processes: about 8 s under load; the lock itself is held by the fast test above
def test_k05_two_review_processes_at_once_never_share_a_round_number(tmp_path: Path) -> None:
    """The probe's own command: two rounds started together; each is a round of its own or refused by the lock."""
    review, batch = _review_folder(tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    command = [sys.executable, "-m", "lived_themes.cli", "review", str(review), "--codes", str(batch)]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stdout.read()) for p in runs]
    for code, output in results:
        assert code in (0, 2) and "Traceback" not in output, output
        if code == 2:
            assert "another review round is running" in output and "review.lock" in output
    rounds = [json.loads(line)["round"] for line in (review / "rounds.jsonl").read_text(encoding="utf-8").splitlines()]
    assert rounds == list(range(1, len(rounds) + 1)) and len(rounds) == 1 + sum(code == 0 for code, _ in results)
    assert not (review / "review.lock").exists()


def test_k05_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    import socket

    review, batch = _review_folder(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    (review / "review.lock").write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname(), "since": "then"}))
    result = invoke("review", review, "--codes", batch)
    assert result.exit_code == 0, result.output
    assert not (review / "review.lock").exists()


# ----- A00: ties stay ties -----------------------------------------------------------------------------------------------

def test_a00_adjudicate_leaves_ties_for_a_human(tmp_path: Path) -> None:
    corpus = _probe_corpus(tmp_path / "b00", ties=True)
    exp = _experiment(tmp_path / "b00.yaml", str(corpus))
    run = tmp_path / "runs" / "b00"
    result = invoke("run", exp, "--out", run, "-q")
    assert result.exit_code == 0, result.output
    out = tmp_path / "adj" / "a00"
    result = invoke("adjudicate", run, "-o", out)
    assert result.exit_code == 0, result.output
    assert "0 undecided disagreement(s) filled" in result.output and "40 tie(s) left for a human" in result.output
    ties = pd.read_csv(out / "undecided.csv", dtype=str, keep_default_na=False)
    assert len(ties) == 40 and set(ties["decision"]) == {""} and set(ties["said_yes"]) <= {"ana", "ben"}
    from lived_themes.corpus import load_corpus

    adjudicated = load_corpus(out)
    seen = adjudicated.seen_by("adjudicated")
    ids = adjudicated.quote_ids
    assert not seen[ids.index("q009")]  # a 1-1 tie: not filled, not called absent
    assert seen[ids.index("q025")]  # both coders agreed
    # a decided tie is taken
    queue = pd.read_csv(run / "disagreements.csv", dtype=str, keep_default_na=False)
    queue["decision"] = ["1" if c == PROBE_CODES[int(q[1:]) % 4] else "0" for q, c in zip(queue["quote_id"], queue["code"])]
    queue.to_csv(run / "disagreements.csv", index=False)
    result = invoke("adjudicate", run, "-o", tmp_path / "adj" / "decided")
    assert result.exit_code == 0 and "tie(s) left" not in result.output
    assert not (tmp_path / "adj" / "decided" / "undecided.csv").exists()


def test_a00_only_a_strict_majority_fills() -> None:
    from lived_themes.evaluation.adjudication import adjudicated_matrix

    nan = np.nan
    labels = {"a": np.array([[1.0, 0.0], [1.0, 0.0]]), "b": np.array([[0.0, 0.0], [1.0, 0.0]]),
              "c": np.array([[1.0, 0.0], [nan, nan]])}
    none = pd.DataFrame(columns=["quote_id", "code", "decision", "row"])
    matrix, counts = adjudicated_matrix(labels, ["x", "y"], ["q1", "q2"], none, humans=["a", "b", "c"])
    assert matrix.tolist() == [[1.0, 0.0], [1.0, 0.0]] and counts["filled_by_strict_majority"] == 1 and counts["ties_undecided"] == 0
    matrix, counts = adjudicated_matrix({k: labels[k] for k in "ab"}, ["x", "y"], ["q1", "q2"], none, humans=["a", "b"])
    assert np.isnan(matrix[0]).all() and matrix[1].tolist() == [1.0, 0.0] and counts["ties_undecided"] == 1


# ----- topics: T01, T02, T05 ----------------------------------------------------------------------------------------------

def _topics_yaml(path: Path, corpus: Path, models: str) -> Path:
    path.write_text(f"name: t\ndata:\n  path: {corpus}\nreference_coder: ana\nmodels:\n{models}"
                    f"outputs: {{html: false, png: false}}\noutput: {{dir: {path.parent / 'runs'}, html: false, figures: false}}\n",
                    encoding="utf-8")
    return path


def test_t01_more_topics_than_quotes_is_refused(tmp_path: Path) -> None:
    corpus = _probe_corpus(tmp_path / "c")
    exp = _topics_yaml(tmp_path / "t01.yaml", corpus, "  - name: lda.v1\n    params: {n_topics: 500}\n")
    assert_located(invoke("topics", exp, "--out", tmp_path / "runs" / "t01"), "t01.yaml", "models.0.params.n_topics", "500 topics",
                   "30 quotes")


def test_t02_zero_topics_is_refused(tmp_path: Path) -> None:
    corpus = _probe_corpus(tmp_path / "c")
    for model in ("lda.v1", "nmf.v1"):
        exp = _topics_yaml(tmp_path / "t02.yaml", corpus, f"  - name: {model}\n    params: {{n_topics: 0}}\n")
        result = invoke("topics", exp, "--out", tmp_path / "runs" / f"t02-{model}")
        assert_located(result, "t02.yaml")
        assert "models.0.params" in result.output and "n_topics must be a whole number of at least 2" in result.output


def test_t05_a_file_with_coders_and_topic_models_says_it_mixes_the_two(tmp_path: Path) -> None:
    corpus = _probe_corpus(tmp_path / "c")
    exp = _topics_yaml(tmp_path / "t05.yaml", corpus, "  - name: lda.v1\n")
    exp.write_text(exp.read_text(encoding="utf-8") + "coders:\n  - name: majority.v1\n", encoding="utf-8")
    result = invoke("run", exp, "--out", tmp_path / "runs" / "t05")
    line = assert_located(result, "t05.yaml", "both 'coders'", "'models'")
    assert "unknown key" not in result.output and len(result.output.strip().splitlines()) == 1, line


def test_topics_prints_each_models_outlier_share_and_scores_then_the_folder(tmp_path: Path) -> None:
    """A topic run says on the console, per model, its topic count, outlier share, NPMI, diversity and alignment."""
    corpus = _probe_corpus(tmp_path / "c")
    exp = _topics_yaml(tmp_path / "t.yaml", corpus, "  - name: lda.v1\n    params: {n_topics: 2}\n")
    result = invoke("topics", exp, "--out", tmp_path / "runs" / "t")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("| model | topic model | n topics | outlier share | npmi | diversity | nmi | ari | purity |")
    quality = pd.read_csv(tmp_path / "runs" / "t" / "quality.csv")
    assert lines[2].startswith("| lda | lda.v1 | 2 | " + f"{quality['outlier_share'][0]:.3f} |")
    assert lines[-1].endswith("t")  # the folder, last
