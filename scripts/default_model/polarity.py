"""The default model's text classes (negative, neutral, positive): a linear readout of its pooled text, fitted
after training on sentences labelled that way, so no other weight, and no score, changes.

    python -m scripts.default_model.polarity --meld DIR [--out dmsil/default_model]

Why a readout of its own: whether a line states an opinion at all is a different question from how positive
it is, and one score read through a neutral band answers it badly in conversation (MELD test weighted F1 0.62;
``scripts/bench_meld.py``). The readout is a multinomial logistic regression on what the text head reads (the
pooled text), fitted on MELD's train lines (``DIR``: ``data/MELD`` of declare-lab/MELD, GPL-3.0) beside the
recipe's own training sentences in classes (``|target| >= 0.5`` an opinion: the band of ``metrics.json``).
MELD's weight and the regularisation are chosen on the validation split: the best MELD dev weighted F1 whose
3-class accuracy on no other validation source falls more than :data:`SLICE_LOSS` below the text head's
band. The held-out test sentences of each source are then read once; MELD test is ``scripts/bench_meld.py``'s.
The pooled text of each split is cached in ``--work`` (keyed by the encoder's weights): a rerun takes seconds.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch

from dmsil import calibration, checkpoint
from dmsil.cli import run_recipe
from dmsil.evaluate import text_batches
from dmsil.model import DMSIL, POLARITY_CLASSES
from scripts.default_model.options import ROOT, DefaultOptions
from scripts.default_model.sentences import NEUTRAL_BAND, Sentence, three_class

log = logging.getLogger(__name__)

MELD_WEIGHTS = (1.0, 2.0, 3.0, 5.0)
"""How much a MELD line counts against one of the recipe's sentences (MELD is 9,989 of 45,391)."""
C_GRID = (0.1, 0.3, 1.0)
"""Inverse L2 strengths tried (scikit-learn's ``C``)."""
SLICE_LOSS = 0.01
"""The most a validation source's 3-class accuracy may fall below the text head's band (issue 37's rule)."""
LEFT_OUT = ("fragment",)
"""Sentences cut short on purpose: their classes are their whole sentence's, not what is left of it."""


@dataclass(frozen=True)
class PolarityOptions:
    meld: Path = Path("MELD")
    """Folder with MELD's ``train_sent_emo.csv`` and ``dev_sent_emo.csv``."""
    out: Path = ROOT / "dmsil" / "default_model"
    work: Path = ROOT / ".data" / "polarity"
    """Cached pooled text per split (git-ignored)."""
    save: bool = True


def pooled_text(model: DMSIL, texts: list[str], batch: int = 128) -> np.ndarray:
    """The model's pooled text of each text: what its text head (and the readout) reads."""
    out = np.zeros((len(texts), model.text_encoder.out_dim), np.float32)
    with torch.no_grad():
        for idx, ids, mask in text_batches(model, texts, batch):
            out[idx] = model.text_encoder(ids, mask).numpy()
    return out


def encoder_key(model: DMSIL) -> str:
    """A fingerprint of the text encoder's weights: the pooled text depends on nothing else."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.text_encoder.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def features(model: DMSIL, encoder: str, split: str, rows: list[Sentence], work: Path) -> np.ndarray:
    """:func:`pooled_text` of ``rows``, cached under ``work`` by split, ``encoder`` (:func:`encoder_key`) and
    texts."""
    texts = [s.text for s in rows]
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:12]
    path = work / f"{split}-{encoder}-{key}.npy"
    if path.is_file():
        return np.load(path)
    log.info("pooling %d %s sentences (cached in %s)", len(rows), split, work)
    x = pooled_text(model, texts)
    work.mkdir(parents=True, exist_ok=True)
    np.save(path, x)
    return x


def band_classes(model: DMSIL, x: np.ndarray, ckpt: Path) -> np.ndarray:
    """The text head's classes from the same pooled text: its calibrated score through the neutral band."""
    with torch.no_grad():
        raw = model.heads["T"](torch.from_numpy(x))[0].numpy()
    calibrate = calibration.from_runtime(checkpoint.read_config(ckpt)).get("T")
    return three_class(calibrate(raw) if calibrate else raw)


def accuracy_by_source(rows: list[Sentence], labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    sources = np.array([s.source for s in rows])
    return {s: float(np.mean(predicted[sources == s] == labels[sources == s])) for s in sorted(set(sources.tolist()))}


def fit(x: np.ndarray, y: np.ndarray, weight: np.ndarray, c: float):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=5000).fit(x, y, sample_weight=weight)


def choose(grid: list[dict]) -> dict:
    """The best MELD dev weighted F1 among fits that keep every other source's accuracy (else the fit that
    loses least)."""
    kept = [g for g in grid if g["worst_source_vs_band"] >= -SLICE_LOSS]
    if kept:
        return max(kept, key=lambda g: g["meld_dev_weighted_f1"])
    log.warning("no fit keeps every source within %.2f of the band: the one that loses least", SLICE_LOSS)
    return max(grid, key=lambda g: g["worst_source_vs_band"])


def run(opts: PolarityOptions) -> dict:
    from sklearn.metrics import f1_score

    from scripts.default_model import card
    from scripts.default_model.corpus import corpus

    split, _ = corpus(DefaultOptions(meld=str(opts.meld)))
    rows = {name: [s for s in split[name] if s.source not in LEFT_OUT] for name in ("train", "valid", "test")}
    model = checkpoint.load(opts.out)
    encoder = encoder_key(model)
    x = {name: features(model, encoder, name, r, opts.work) for name, r in rows.items()}
    y = {name: three_class([s.target for s in r]) for name, r in rows.items()}
    band = {name: accuracy_by_source(r, y[name], band_classes(model, x[name], opts.out)) for name, r in rows.items()}
    meld = {name: np.array([s.source == "meld" for s in r]) for name, r in rows.items()}
    grid = []
    for w in MELD_WEIGHTS:
        for c in C_GRID:
            clf = fit(x["train"], y["train"], np.where(meld["train"], w, 1.0), c)
            predicted = clf.predict(x["valid"])
            valid = accuracy_by_source(rows["valid"], y["valid"], predicted)
            grid.append({
                "meld_weight": w, "C": c, "valid_accuracy": valid,
                "meld_dev_weighted_f1": float(f1_score(y["valid"][meld["valid"]], predicted[meld["valid"]], average="weighted")),
                "worst_source_vs_band": min(v - band["valid"][s] for s, v in valid.items() if s != "meld"),
            })  # fmt: skip
            log.info("MELD x%g, C %g: dev weighted F1 %.4f, worst source %+.3f against the band", w, c,
                     grid[-1]["meld_dev_weighted_f1"], grid[-1]["worst_source_vs_band"])  # fmt: skip
    chosen = choose(grid)
    clf = fit(x["train"], y["train"], np.where(meld["train"], chosen["meld_weight"], 1.0), chosen["C"])
    order = [list(clf.classes_).index(k) for k in (-1, 0, 1)]  # POLARITY_CLASSES' order
    test = accuracy_by_source(rows["test"], y["test"], clf.predict(x["test"]))
    report = {"classes": list(POLARITY_CLASSES), "neutral_band": NEUTRAL_BAND, "slice_loss": SLICE_LOSS,
              "chosen": chosen, "grid": grid,
              "sentences": {name: len(r) for name, r in rows.items()}, "meld_train_lines": int(meld["train"].sum()),
              "held_out_accuracy": test, "held_out_band_accuracy": band["test"]}  # fmt: skip
    log.info("chosen MELD x%g, C %g; held-out accuracy %s (band %s)", chosen["meld_weight"], chosen["C"],
             {k: round(v, 3) for k, v in test.items()}, {k: round(v, 3) for k, v in band["test"].items()})  # fmt: skip
    if opts.save:
        source = (f"MELD train ({report['meld_train_lines']} lines, GPL-3.0, x{chosen['meld_weight']:g}) and the recipe's "
                  f"{len(rows['train']) - report['meld_train_lines']} training sentences in classes")  # fmt: skip
        checkpoint.set_polarity(opts.out, clf.coef_[order], clf.intercept_[order], source)
        checkpoint.set_metrics(opts.out, "polarity", report)
        card.write(opts.out)
    report["options"] = {f.name: str(getattr(opts, f.name)) for f in fields(opts)}
    return report


def main(argv: list[str] | None = None) -> int:
    return run_recipe("python -m scripts.default_model.polarity", __doc__, PolarityOptions, run, argv)


if __name__ == "__main__":
    sys.exit(main())
