"""Self-MM's multi-task objective, to which the alignment terms are added."""

from __future__ import annotations

import torch


def weighted_l1(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``mean(w * |pred - target|)``: L1 as in Self-MM, robust to the noisy generated labels."""
    return (weight * (pred.view(-1) - target.view(-1)).abs()).mean()


def weighted_mse(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``mean(w * (pred - target)^2)``: its optimum is the expected label, graded even for binary targets."""
    return (weight * (pred.view(-1) - target.view(-1)).square()).mean()


LOSSES = {"l1": weighted_l1, "mse": weighted_mse}


def total_loss(task_losses: dict[str, torch.Tensor], alignment_losses: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum of the four task losses and the (already weighted) CORAL terms of every aligned pair."""
    terms = list(task_losses.values()) + list(alignment_losses.values())
    return torch.stack(terms).sum()
