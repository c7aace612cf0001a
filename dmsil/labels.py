"""Self-MM's unimodal label generation module (ULGM): the *private* information of each modality.

Only the fused (multimodal) label is annotated. ULGM keeps, per training sample, the latest head
feature of every modality and a generated label per unimodal task; a sample's unimodal label moves
away from the fused label by how much closer its modality feature sits to the positive (or negative)
class centre than its fused feature does (Yu et al., AAAI 2021, eqs. 5-10; MMSA's ``SELF_MM``).
"""

from __future__ import annotations

import torch

FEATURE_KEYS = {"M": "Feature_f", "T": "Feature_t", "A": "Feature_a", "V": "Feature_v"}
EPS = 1e-8


def relative_distance(features: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """delta = (d_neg - d_pos) / (d_pos + eps): > 0 when a feature is nearer the positive centre."""
    d_pos = torch.linalg.vector_norm(features - pos, dim=-1)
    d_neg = torch.linalg.vector_norm(features - neg, dim=-1)
    return (d_neg - d_pos) / (d_pos + EPS)


def generate_labels(y_m: torch.Tensor, delta_f: torch.Tensor, delta_s: torch.Tensor, bound: float) -> torch.Tensor:
    """``y_s = y_m + (delta_s - delta_f) * (y_m + delta_f) / (2 delta_f)``, clamped to [-H, H].

    Written as MMSA writes it, ``0.5 * alpha * y_m + 0.5 * (y_m + delta_s - delta_f)`` with
    alpha = delta_s / delta_f, except that the deltas are subtracted before ``y_m`` is added: a feature
    on a centre gives deltas near 1e8, where float32 ``y_m + delta_s`` would lose ``y_m`` entirely.
    """
    alpha = delta_s / (delta_f + EPS)
    new = 0.5 * alpha * y_m + 0.5 * y_m + 0.5 * (delta_s - delta_f)
    return new.clamp(-bound, bound)


def momentum_update(stored: torch.Tensor, new: torch.Tensor, epoch: int) -> torch.Tensor:
    """``(n - 1) / (n + 1) * stored + 2 / (n + 1) * new`` for epoch n: early epochs move labels most."""
    return (epoch - 1) / (epoch + 1) * stored + 2 / (epoch + 1) * new


class LabelGenerator:
    """ULGM memories: per-sample head features and labels, and per-task class centres."""

    def __init__(
        self,
        n_samples: int,
        dims: dict[str, int],
        bound: float,
        exclude_zero: bool = True,
        device: torch.device | str = "cpu",
    ):
        self.bound = bound
        self.exclude_zero = exclude_zero
        self.features = {m: torch.zeros(n_samples, d, device=device) for m, d in dims.items()}
        self.labels = {m: torch.zeros(n_samples, device=device) for m in dims}
        self.centres = {m: (torch.zeros(d, device=device), torch.zeros(d, device=device)) for m, d in dims.items()}

    def init_labels(self, indexes: torch.Tensor, y_m: torch.Tensor) -> None:
        """Every task starts from the annotated fused label."""
        for labels in self.labels.values():
            labels[indexes] = y_m.to(labels.dtype)

    def update_features(self, outputs: dict[str, torch.Tensor], indexes: torch.Tensor) -> None:
        for m, memory in self.features.items():
            memory[indexes] = outputs[FEATURE_KEYS[m]].detach().to(memory.dtype)

    def update_centres(self) -> None:
        """Class centres from each task's own current labels; an empty class keeps its last centre."""
        for m, memory in self.features.items():
            labels = self.labels[m]
            pos_mask = labels > 0 if self.exclude_zero else labels >= 0
            neg_mask = labels < 0
            pos, neg = self.centres[m]
            if pos_mask.any():
                pos = memory[pos_mask].mean(0)
            if neg_mask.any():
                neg = memory[neg_mask].mean(0)
            self.centres[m] = (pos, neg)

    def update_labels(self, outputs: dict[str, torch.Tensor], indexes: torch.Tensor, epoch: int) -> None:
        """Generate new T/A/V labels for the batch and blend them in by momentum (from epoch 2 on)."""
        delta_f = relative_distance(outputs[FEATURE_KEYS["M"]].detach(), *self.centres["M"])
        y_m = self.labels["M"][indexes]
        for m in self.labels:
            if m == "M":
                continue
            delta_s = relative_distance(outputs[FEATURE_KEYS[m]].detach(), *self.centres[m])
            new = generate_labels(y_m, delta_f, delta_s, self.bound)
            self.labels[m][indexes] = momentum_update(self.labels[m][indexes], new, epoch)

    def weights(self, task: str, indexes: torch.Tensor) -> torch.Tensor:
        """Loss weight per sample: 1 for M, tanh(|y_s - y_m|) for a unimodal task."""
        if task == "M":
            return torch.ones_like(self.labels["M"][indexes])
        return torch.tanh((self.labels[task][indexes] - self.labels["M"][indexes]).abs())
