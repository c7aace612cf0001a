"""Steady scores: an exponential moving average over stream time, kept beside the raw scores.

A window's raw score jumps whenever an utterance enters or leaves it; a gauge that people watch should
not. Each score (fused, each modality, arousal) is smoothed on its own with time constant ``tau`` seconds:
after a step, the smoothed value has covered 63% of it ``tau`` seconds later. A score that goes missing
has no smoothed value either, and starts afresh when it returns: a stale number is never shown as now.
Each step is also scaled by the score's confidence (:mod:`realtime.fusion`): a sentence's first words,
heard live, nudge the gauge; the same sentence heard to its end moves it fully.
"""

from __future__ import annotations

import math

from realtime.modalities import SCORES, modality_of


class Smoother:
    def __init__(self, tau: float):
        self.tau = tau
        self._last: dict[str, tuple[float, float]] = {}

    def __call__(self, scores):
        """Fill ``scores.smooth`` (a :class:`realtime.scorer.Scores` of a regular window, in time order)."""
        for name in SCORES:
            raw = getattr(scores, name)
            if raw is None:
                self._last.pop(name, None)
                scores.smooth[name] = None
                continue
            previous = self._last.get(name)
            value = raw
            if previous is not None:
                t0, v0 = previous
                step = 1.0 - math.exp(-max(scores.end - t0, 0.0) / self.tau) if self.tau > 0 else 1.0
                sure = scores.confidence.get(modality_of(name), 1.0)
                value = v0 + step * sure * (raw - v0)
            self._last[name] = (scores.end, value)
            scores.smooth[name] = value
        return scores
