"""Conversational text: the text head on MELD (Friends dialogue, crowd sentiment labels), 3 classes.

    .venv/bin/python -m scripts.bench_meld --meld DIR   # DIR holds dev_sent_emo.csv and test_sent_emo.csv

MELD (Poria et al., ACL 2019; GPL-3.0) is public at ``declare-lab/MELD`` on GitHub (``data/MELD/``); it is
not in any package, so this benchmark reads a folder you name and nothing of it is kept in the repository.
Each utterance's text is scored alone by the shipped model's text head (through the engine, as the app
scores a transcript); a score inside +-band is neutral, outside it positive or negative. The band is
chosen on dev for the best weighted F1 and reported on test once. ``with context`` adds a share of the
previous turn's score in the same dialogue (share chosen on dev too): an answer like "Oh." or "Yeah,
right." takes its sentiment from what it answers. VADER's compound score, with its own band from dev, is
the baseline when ``vaderSentiment`` is importable. Published: the MELD paper's text-only CNN, weighted F1
0.6673 on test (its Table 6, sentiment).

``text classes``: the model's own class readout (output ``P``, where the checkpoint has one:
``scripts/default_model/polarity.py``, fitted on MELD train and chosen on MELD dev), its likeliest class per
line; ``with context`` adds a share of the previous turn's probabilities, the share chosen on dev.

Writes ``scripts/results/bench_meld.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from dmsil.cli import add_verbosity, setup_logging
from scripts.default_model.sentences import meld_lines

log = logging.getLogger(__name__)
RESULTS = Path(__file__).parent / "results" / "bench_meld.json"
BANDS = np.round(np.arange(0.0, 2.01, 0.05), 2)
SHARES = np.round(np.arange(0.0, 1.01, 0.1), 2)


def read(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Texts, labels (-1, 0, 1) and each utterance's previous turn index in its dialogue (-1: none)."""
    rows = meld_lines(path)
    previous = [i - 1 if i and rows[i - 1].dialogue == r.dialogue else -1 for i, r in enumerate(rows)]
    return [r.text for r in rows], np.array([r.label for r in rows]), np.array(previous)


def classes(scores: np.ndarray, band: float) -> np.ndarray:
    return np.where(np.abs(scores) < band, 0, np.sign(scores)).astype(int)


def weighted_f1(labels: np.ndarray, scores: np.ndarray, band: float) -> float:
    return float(f1_score(labels, classes(scores, band), average="weighted"))


def with_context(scores: np.ndarray, previous: np.ndarray, share: float) -> np.ndarray:
    """Each line's score (or class probabilities) plus ``share`` of its previous turn's."""
    has = (previous >= 0).reshape(-1, *[1] * (scores.ndim - 1))
    return scores + share * np.where(has, scores[np.maximum(previous, 0)], 0.0)


def choose(dev: tuple[np.ndarray, np.ndarray, np.ndarray], shares=(0.0,)) -> tuple[float, float, float]:
    """The band and context share with the best weighted F1 on dev, and that F1."""
    labels, scores, previous = dev
    f1, band, share = max(
        (weighted_f1(labels, with_context(scores, previous, s), b), b, s) for b in BANDS for s in shares
    )
    return float(band), float(share), f1


def report(dev, test, shares=(0.0,)) -> dict:
    band, share, dev_f1 = choose(dev, shares)
    labels, scores, previous = test
    return {"band": band, "context_share": share, "dev_weighted_f1": dev_f1,
            "test_weighted_f1": weighted_f1(labels, with_context(scores, previous, share), band)}  # fmt: skip


def report_classes(dev, test, shares=(0.0,)) -> dict:
    """The likeliest class of each line's probabilities (with a share of its previous turn's, chosen on dev)."""

    def f1(split, share: float) -> float:
        labels, probs, previous = split
        return float(f1_score(labels, with_context(probs, previous, share).argmax(1) - 1, average="weighted"))

    dev_f1, share = max((f1(dev, s), s) for s in shares)
    return {"context_share": float(share), "dev_weighted_f1": dev_f1, "test_weighted_f1": f1(test, share)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m scripts.bench_meld", description=__doc__.split("\n")[0])
    p.add_argument("--meld", type=Path, required=True, help="folder with dev_sent_emo.csv and test_sent_emo.csv")
    p.add_argument("--checkpoint", help="model directory (default: the shipped default model)")
    add_verbosity(p)
    args = p.parse_args(argv)
    setup_logging(args)

    from realtime.scorer import Scorer

    scorer = Scorer(args.checkpoint)
    sets, classes = {}, {}
    for split in ("dev", "test"):
        texts, labels, previous = read(args.meld / f"{split}_sent_emo.csv")
        read_alone = scorer.texts(texts)
        sets[split] = (labels, np.nan_to_num([np.nan if s.text is None else s.text for s in read_alone]), previous)
        if all(s.polarity is not None for s in read_alone if s.text is not None):  # no words: neutral
            probs = np.array([(0.0, 1.0, 0.0) if s.text is None else s.polarity for s in read_alone])
            classes[split] = (labels, probs, previous)
    out = {"utterances": {k: int(len(v[0])) for k, v in sets.items()},
           "published": {"MELD paper, text-only CNN (test)": 0.6673},
           "text head": report(sets["dev"], sets["test"]),
           "text head with context": report(sets["dev"], sets["test"], SHARES)}  # fmt: skip
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError:
        log.info("vaderSentiment not importable: no VADER baseline")
    else:
        vader = SentimentIntensityAnalyzer()
        graded = {}
        for split in ("dev", "test"):
            texts, labels, previous = read(args.meld / f"{split}_sent_emo.csv")
            graded[split] = (labels, 3 * np.array([vader.polarity_scores(t)["compound"] for t in texts]), previous)
        out["VADER"] = report(graded["dev"], graded["test"])
    if len(classes) == 2:
        out["text classes"] = report_classes(classes["dev"], classes["test"])
        out["text classes with context"] = report_classes(classes["dev"], classes["test"], SHARES)
    RESULTS.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
