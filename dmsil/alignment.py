"""Covariance-based deep modal alignment: the *shared* information between modality pairs.

Lai et al. align the second-order statistics of modality representations so that what two modalities
share is represented alike. This reconstruction (the paper publishes no code) uses the Deep CORAL form:
each modality is projected into one common space, and for every configured pair the squared Frobenius
distance between the two batch covariance matrices, scaled by ``1 / (4 d^2)``, is added to the loss.
"""

from __future__ import annotations

import torch
from torch import nn

from dmsil.config import AlignmentConfig


def covariance(x: torch.Tensor) -> torch.Tensor:
    """Unbiased batch covariance (d x d) of ``x`` (n x d), as Deep CORAL computes it."""
    n = x.shape[0]
    centred = x - x.mean(dim=0, keepdim=True)
    return centred.T @ centred / (n - 1)


def coral_loss(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``||C_a - C_b||_F^2 / (4 d^2)``; zero for a batch of one, where no covariance exists."""
    if a.shape != b.shape:
        raise ValueError(f"coral_loss needs equal shapes, got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.shape[0] < 2:
        return a.new_zeros(())
    d = a.shape[1]
    return (covariance(a) - covariance(b)).pow(2).sum() / (4 * d * d)


class CovarianceAlignment(nn.Module):
    """Projects T, A, V features into a shared space and scores the configured pairs' covariance gap."""

    def __init__(self, config: AlignmentConfig, dims: dict[str, int]):
        super().__init__()
        self.pairs = config.pairs
        self.weights = config.weights
        used = sorted({m for pair in config.pairs for m in pair}, key="TAV".index)
        self.projections = nn.ModuleDict({m: nn.Linear(dims[m], config.shared_dim) for m in used})

    def project(self, features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Shared-space view of each modality that takes part in some pair."""
        return {m: proj(features[m]) for m, proj in self.projections.items()}

    def losses(self, shared: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Weighted CORAL term per pair, keyed like ``"TA"``."""
        return {
            pair: weight * coral_loss(shared[pair[0]], shared[pair[1]])
            for pair, weight in zip(self.pairs, self.weights, strict=True)
        }
