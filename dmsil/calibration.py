"""Monotone score calibration: a head's raw score -> the mean human rating of sentences that got that score.

A regression head trained with squared error on noisy ratings is pulled toward the middle where it is
unsure and its scale drifts between training sources. The map is isotonic regression of validation
targets on the raw scores, kept as a handful of knots in ``config.json`` (``runtime.calibration``) and
applied by linear interpolation wherever scores are shown (:class:`realtime.scorer.Scorer`), so a +1.5
means what a +1.5 human rating means. Research evaluation (:mod:`dmsil.evaluate`) reads the raw heads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

KNOTS = 17


@dataclass
class Calibration:
    x: list[float]
    """Raw scores, increasing."""
    y: list[float]
    """Calibrated scores at ``x``, non-decreasing; clamped beyond both ends."""

    def __call__(self, scores):
        return np.interp(scores, self.x, self.y)

    @classmethod
    def fit(cls, scores, targets, weights=None, knots: int = KNOTS) -> Calibration:
        """Isotonic fit of ``targets`` on ``scores``, sampled at quantiles of the scores (ends included)."""
        from sklearn.isotonic import IsotonicRegression

        s = np.asarray(scores, np.float64)
        iso = IsotonicRegression(out_of_bounds="clip").fit(s, np.asarray(targets, np.float64), sample_weight=weights)
        x = np.unique(np.quantile(s, np.linspace(0.0, 1.0, knots)))
        return cls([round(float(v), 4) for v in x], [round(float(v), 4) for v in iso.predict(x)])


def from_runtime(document: dict) -> dict[str, Calibration]:
    """Head key -> its map, from a checkpoint's ``config.json``; heads without one are shown raw."""
    maps = document.get("runtime", {}).get("calibration", {})
    return {head: Calibration(m["x"], m["y"]) for head, m in maps.items()}


def to_runtime(maps: dict[str, Calibration]) -> dict:
    return {head: asdict(m) for head, m in maps.items()}
