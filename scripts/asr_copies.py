"""Make spoken copies of training sentences (espeak-ng + the app's recognizer) for the default model.

    .venv/bin/python -m scripts.asr_copies [--n 2400] [--seed 7]

Appends to ``scripts/data/asr_copies.jsonl`` (committed), so it resumes where it stopped and retraining
never needs espeak-ng or the recognizer. Only training-split sentences of 4-30 words are spoken; voices
and speeds vary (:data:`scripts.default_model.spoken.VOICES`), and the packaged ``tiny.en`` and ``base`` recognizers
take turns, so the head meets the errors of both.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a file, it still imports scripts.default_model from this checkout

from dmsil.cli import add_verbosity, setup_logging  # noqa: E402
from scripts.default_model import sentences  # noqa: E402
from scripts.default_model.spoken import VOICES, SpokenCopies  # noqa: E402
from scripts.default_model.teacher import LabelCache  # noqa: E402

COPIES = ROOT / "scripts" / "data" / "asr_copies.jsonl"
TEACHER_CACHE = ROOT / "scripts" / "data" / "teacher_labels.jsonl"
UNSPOKEN = ("@", "#", "http", "&amp;")
"""Tweets' markup, which nobody says aloud."""


def candidates(data: Path) -> list[str]:
    """Training-split sentences of every labelled source, 4-30 words, one per text."""
    archives = sentences.download(data)
    rows = sentences.human_rated(archives)
    cache = LabelCache(TEACHER_CACHE)
    rows += sentences.teacher_sentences(sentences.unlabelled_lines(archives), cache, 1.0)
    texts = [
        r.text for r in rows
        if r.split == "train" and 4 <= len(r.text.split()) <= 30 and not any(m in r.text for m in UNSPOKEN)
    ]  # fmt: skip
    return list(dict.fromkeys(texts))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=2400, help="sentences to have copies of in the end")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--data", type=Path, default=ROOT / ".data" / "packages")
    p.add_argument("--out", type=Path, default=COPIES)
    add_verbosity(p)
    args = p.parse_args(argv)
    setup_logging(args, logging.INFO)
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    rng = random.Random(args.seed)
    texts = candidates(args.data)
    rng.shuffle(texts)
    copies = SpokenCopies(args.out)
    jobs = [(t, rng.choice(VOICES), rng.randint(140, 190)) for t in texts[: args.n]]
    logging.info("%d of %d sentences already have copies", sum(t in copies for t, *_ in jobs), len(jobs))
    copies.make(jobs)
    logging.info("%s: %d copies", args.out, len(copies))
    return 0


if __name__ == "__main__":
    sys.exit(main())
