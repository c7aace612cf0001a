"""The field's standard regression metrics, with MMSA's ``MetricsTop`` key names and definitions.

Values are not rounded (MMSA rounds to 4 decimals); everything else follows MMSA, including its quirks
(``np.round`` rounds halves to even; Has0 counts 0 as positive; SIMS clips both predictions and truth
to [-1, 1] before every metric, MAE included; classes are decided at the inputs' precision, so float32
labels exactly on a SIMS edge such as 0.1 fall where MMSA puts them).
"""

from __future__ import annotations

import numpy as np

MOSI_KEYS = ("Has0_acc_2", "Has0_F1_score", "Non0_acc_2", "Non0_F1_score", "Mult_acc_5", "Mult_acc_7", "MAE", "Corr")
SIMS_KEYS = ("Mult_acc_2", "Mult_acc_3", "Mult_acc_5", "F1_score", "MAE", "Corr")
SIMS_BINS = {
    2: (-1.01, 0.0, 1.01),
    3: (-1.01, -0.1, 0.1, 1.01),
    5: (-1.01, -0.7, -0.1, 0.1, 0.7, 1.01),
}
"""Right-closed class intervals (edge_i, edge_i+1] of CH-SIMS's 2/3/5-class accuracies."""


def _rounded_accuracy(pred: np.ndarray, true: np.ndarray, bound: float) -> float:
    return float(np.mean(np.round(np.clip(pred, -bound, bound)) == np.round(np.clip(true, -bound, bound))))


def _accuracy(true: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean(np.asarray(true) == np.asarray(pred)))


def _weighted_f1(true: np.ndarray, pred: np.ndarray) -> float:
    """scikit-learn's ``f1_score(average="weighted")`` (a class never predicted scores 0), written out: its
    import costs every training and evaluation run 2 s of start-up."""
    true, pred = np.asarray(true), np.asarray(pred)
    total = 0.0
    for c in np.union1d(true, pred):
        tp, predicted, actual = np.sum((true == c) & (pred == c)), np.sum(pred == c), np.sum(true == c)
        total += actual * 2.0 * tp / (predicted + actual)  # F1 = 2 tp / (2 tp + fp + fn), weighted by support
    return float(total / true.size) if true.size else 0.0


def _corr(pred: np.ndarray, true: np.ndarray) -> float:
    if np.std(pred) == 0 or np.std(true) == 0:
        return float("nan")
    return float(np.corrcoef(pred, true)[0, 1])


def mosi_metrics(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """CMU-MOSI / MOSEI: binary (with and without neutral truth), 5/7-class accuracy, MAE, Pearson r."""
    mae_pred, mae_true = pred.astype(np.float64), true.astype(np.float64)
    non0 = true != 0
    has0_true, has0_pred = true >= 0, pred >= 0
    non0_true, non0_pred = true[non0] > 0, pred[non0] > 0
    return {
        "Has0_acc_2": _accuracy(has0_true, has0_pred),
        "Has0_F1_score": _weighted_f1(has0_true, has0_pred),
        "Non0_acc_2": _accuracy(non0_true, non0_pred) if non0.any() else float("nan"),
        "Non0_F1_score": _weighted_f1(non0_true, non0_pred) if non0.any() else float("nan"),
        "Mult_acc_5": _rounded_accuracy(pred, true, 2.0),
        "Mult_acc_7": _rounded_accuracy(pred, true, 3.0),
        "MAE": float(np.mean(np.abs(mae_pred - mae_true))),
        "Corr": _corr(mae_pred, mae_true),
    }


def sims_class(values: np.ndarray, classes: int) -> np.ndarray:
    """Class index of each value in [-1, 1] under CH-SIMS's right-closed bins."""
    values = np.asarray(values)
    dtype = values.dtype if values.dtype == np.float32 else np.float64  # the edges at the values' precision
    inner = np.asarray(SIMS_BINS[classes][1:-1], dtype)
    return np.searchsorted(inner, values, side="left")


def sims_metrics(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """CH-SIMS: 2/3/5-class accuracy on fixed bins, weighted F1 of the 2 classes, MAE and r after clipping."""
    pred, true = np.clip(pred, -1.0, 1.0), np.clip(true, -1.0, 1.0)
    result = {f"Mult_acc_{k}": float(np.mean(sims_class(pred, k) == sims_class(true, k))) for k in (2, 3, 5)}
    result["F1_score"] = _weighted_f1(sims_class(true, 2), sims_class(pred, 2))
    pred, true = pred.astype(np.float64), true.astype(np.float64)
    result["MAE"] = float(np.mean(np.abs(pred - true)))
    result["Corr"] = _corr(pred, true)
    return result


def compute(y_pred, y_true, dataset: str = "mosi") -> dict[str, float]:
    """Metrics of ``y_pred`` against ``y_true`` (any array-likes of equal length) for a dataset family."""
    # classes are decided at the labels' own precision, as MMSA decides them: float32 0.1 is on the SIMS
    # edge in float32 and just above it in float64
    dtype = np.float32 if np.result_type(np.asarray(y_pred), np.asarray(y_true)) == np.float32 else np.float64
    pred = np.asarray(y_pred, dtype=dtype).reshape(-1)
    true = np.asarray(y_true, dtype=dtype).reshape(-1)
    if pred.shape != true.shape or pred.size == 0:
        raise ValueError(f"need equal, non-empty predictions and truths, got {pred.size} and {true.size}")
    family = dataset.lower()
    if family in ("mosi", "mosei"):
        return mosi_metrics(pred, true)
    if family == "sims":
        return sims_metrics(pred, true)
    raise ValueError(f"unknown dataset {dataset!r}: use mosi, mosei or sims")


def graded(pred: np.ndarray, true: np.ndarray, band: float = 0.5) -> dict[str, float]:
    """Sentence-level sentiment on the MOSI scale: Pearson r, three-class accuracy (neutral: |y| < band), MAE.

    ``mean_abs_neutral`` / ``mean_abs_opinion`` are the mean |prediction| on sentences whose truth is in /
    outside the neutral band: how loudly a model speaks about what is not an opinion.
    """
    pred, true = np.asarray(pred, np.float64), np.asarray(true, np.float64)

    def classes(x: np.ndarray) -> np.ndarray:
        return np.where(x >= band, 1, np.where(x <= -band, -1, 0))

    neutral = np.abs(true) < band
    return {
        "n": int(len(true)),
        "r": _corr(pred, true),
        "acc3": float(np.mean(classes(pred) == classes(true))),
        "mae": float(np.mean(np.abs(pred - true))),
        "mean_abs_neutral": float(np.mean(np.abs(pred[neutral]))) if neutral.any() else float("nan"),
        "mean_abs_opinion": float(np.mean(np.abs(pred[~neutral]))) if (~neutral).any() else float("nan"),
    }


def mse(pred, true, weights=None) -> float:
    """Mean squared error, each sample counted by its weight (0: no label); 0 when nothing has a label."""
    pred, true = np.asarray(pred, np.float64).reshape(-1), np.asarray(true, np.float64).reshape(-1)
    w = np.ones_like(true) if weights is None else np.asarray(weights, np.float64).reshape(-1)
    return float(np.sum(w * (pred - true) ** 2) / max(np.sum(w), 1e-9))


def verdicts(scores, positive) -> dict[str, float]:
    """How well scores separate yes/no verdicts (e.g. fresh/rotten): ROC AUC, and accuracy of the sign."""
    from sklearn.metrics import roc_auc_score

    scores, positive = np.asarray(scores, np.float64), np.asarray(positive, bool)
    return {
        "n": int(len(scores)),
        "auc": float(roc_auc_score(positive, scores)),
        "accuracy": float(np.mean((scores > 0) == positive)),
    }


def reliability(
    pred: np.ndarray, true: np.ndarray, edges=(-3, -2, -1, -0.5, 0.5, 1, 2, 3), by: str = "truth"
) -> list[dict]:
    """Mean prediction and mean truth per bin of the truth (``by="truth"``) or of the prediction (``"score"``).

    Binned by score, a calibrated model's mean truth matches its mean score: a +1.5 means what a +1.5
    human rating means. Binned by truth, any predictor that is not perfect sits closer to 0 than the truth
    at the ends (the score is the expected rating given the words), so that view shows how much strong
    feeling is under-stated, not miscalibration.
    """
    pred, true = np.asarray(pred, np.float64), np.asarray(true, np.float64)
    key = true if by == "truth" else pred
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        inside = (key >= lo) & (key < hi) if hi < edges[-1] else (key >= lo) & (key <= hi)
        if inside.any():
            rows.append(
                {"lo": lo, "hi": hi, "n": int(inside.sum()), "truth": float(true[inside].mean()),
                 "pred": float(pred[inside].mean())}
            )  # fmt: skip
    return rows
