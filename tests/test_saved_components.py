"""Coders and topic models are saved and loaded with one checked design: a format version and the same checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lived_themes.errors import ModelFileError
from lived_themes.registry import make_coder
from lived_themes.topics.base import MODEL_FILE, load_topic_model, make_topic_model

TEXTS = ["my nurse was kind and listened", "the nurse listened to me", "side effects of the tablets",
         "tablets gave me side effects", "a long wait for an appointment", "the appointment wait was long"] * 2


def _edit(path: Path, **changes: object) -> None:
    meta = json.loads(path.read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    path.write_text(json.dumps(meta), encoding="utf-8")


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"format_version": 99}, "format_version", "format version 99"),
    ({"topic_model": "lda.v9"}, "topic_model", "unknown topic model"),
    ({"params": {"n_topcs": 3}}, "params", "unknown parameter"),
    ({"params": []}, "params", "JSON object"),
    ({"topic_codes": {"x": "access"}}, "topic_codes", "whole numbers"),
])
def test_a_bad_topic_model_file_is_a_located_error(changes: dict, field: str, message: str, tmp_path: Path) -> None:
    model = make_topic_model("nmf.v1", n_topics=3, seed=0).fit(TEXTS)
    folder = model.save(tmp_path / "m")
    assert json.loads((folder / MODEL_FILE).read_text(encoding="utf-8"))["format_version"] == 1
    _edit(folder / MODEL_FILE, **changes)
    with pytest.raises(ModelFileError, match=message) as caught:
        load_topic_model(folder)
    assert caught.value.field == field and caught.value.file.endswith(MODEL_FILE)


def test_files_saved_before_format_versions_still_load(tmp_path: Path) -> None:
    model = make_topic_model("nmf.v1", n_topics=3, seed=0).fit(TEXTS)
    folder = model.save(tmp_path / "m")
    _edit(folder / MODEL_FILE, format_version=None)
    assert load_topic_model(folder).transform(TEXTS).tolist() == model.transform(TEXTS).tolist()
    with pytest.raises(ModelFileError, match="no such folder"):
        load_topic_model(tmp_path / "missing")


def test_a_coder_from_a_newer_format_is_refused(tmp_path: Path) -> None:
    from lived_themes.coders import load_coder

    coder = make_coder("majority.v1").fit(TEXTS, np.eye(6)[[0, 0, 1, 1, 2, 2] * 2][:, :3], ["a", "b", "c"])
    folder = coder.save(tmp_path / "c")
    _edit(folder / "coder.json", format_version=3)
    with pytest.raises(ModelFileError, match="format_version 3 is not supported") as caught:
        load_coder(folder)
    assert caught.value.field == "format_version"
