"""The LLM teacher's prompt, its committed label cache, and the scale fitted on human ratings."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from scripts.default_model import sentences
from scripts.default_model.teacher import EXAMPLES, LABELS, LabelCache, expected, fit_scale, prompt

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "scripts" / "data" / "teacher_labels.jsonl"


def test_prompt_ends_where_the_label_is_read():
    p = prompt("The bus was late again.")
    assert p.endswith('Sentence: "The bus was late again."<|im_end|>\n<|im_start|>assistant\n')
    assert all(label in p for _, label in EXAMPLES) and p.count("<|im_start|>user") == len(EXAMPLES) + 1


def test_cache_appends_and_resumes(tmp_path):
    path = tmp_path / "labels.jsonl"
    cache = LabelCache(path)
    cache.labels["a"] = [0.1, 0.2, 0.7]
    with pytest.raises(Exception, match="no teacher label"):
        cache.fill(["a", "b"], None)
    path.write_text('{"text": "b", "p": [0.8, 0.1, 0.1]}\n')
    again = LabelCache(path)
    assert "b" in again and "a" not in again
    assert expected(again["b"], 2.0) == pytest.approx(-1.4)


def test_committed_labels_follow_human_ratings():
    """On the calibration sentences (VADER training split) the teacher's labels track the human means."""
    cache = LabelCache(CACHE)
    rated = sentences.human_rated(sentences.download(ROOT / ".data" / "packages"))
    pairs = [
        (cache[s.text], s.target)
        for s in rated
        if s.source.startswith("vader-") and s.split == "train" and s.text in cache
    ]
    assert len(pairs) >= 300
    p, y = np.stack([a for a, _ in pairs]), np.array([b for _, b in pairs])
    assert np.allclose(p.sum(1), 1, atol=1e-3) and p.shape[1] == len(LABELS)
    scale = fit_scale(p, y)
    assert 0.8 < scale < 3.0
    assert np.corrcoef(expected(p, scale), y)[0, 1] > 0.6


@pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None,
    reason="teacher is a training-time extra (scripts/install_teacher.sh)",
)
def test_teacher_labels_real_sentences():
    from scripts.default_model.teacher import LabelTeacher, TeacherOptions, teacher_path

    model = teacher_path(ROOT / ".data" / "teacher")
    if not model.is_file():
        pytest.skip(f"{model}: not assembled (scripts/install_teacher.sh)")
    teacher = LabelTeacher(TeacherOptions(model))
    p = np.stack([teacher.probabilities(s) for s in ("The meeting is at ten.", "They lost my luggage again.")])
    assert np.argmax(p, 1).tolist() == [1, 0]
