"""Where training and evaluation run: ``auto`` (CUDA when present), ``cpu``, ``cuda`` or ``cuda:N``."""

from __future__ import annotations

import torch

from dmsil.errors import DmsilError

CHOICES = "auto, cpu, cuda or cuda:N"


def resolve(name: str = "auto") -> torch.device:
    """The device ``name`` asks for, or a one-line :class:`DmsilError` saying why it cannot be used here."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise DmsilError(f"--device {name}: use {CHOICES}") from None
    if device.type == "cpu":
        return device
    if device.type != "cuda":
        raise DmsilError(f"--device {name}: use {CHOICES}")
    if not torch.cuda.is_available():
        raise DmsilError(f"--device {name}: no CUDA device here (torch.cuda.is_available() is False)")
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise DmsilError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return device


def to(inputs: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """A batch's tensors on ``device`` (copied asynchronously where the source memory allows)."""
    return {k: v.to(device, non_blocking=True) for k, v in inputs.items()}
