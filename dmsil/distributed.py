"""Training on several processes under ``torchrun`` (DistributedDataParallel): who does what, and what the
processes share so that Self-MM's semantics hold.

Every rank walks the same shuffled global batches (same seed) and trains on its own share of each
(``shard``); DDP averages the gradients, so a step still follows ``update_every`` *global* batches.
ULGM's per-sample memories and class centres must see every sample: each rank gathers the head features
of the whole global batch (``gather_rows``) and updates identical memories. The validation score that
decides early stopping is rank 0's (``broadcast``); rank 0 alone evaluates on test and writes the
checkpoint. NCCL on GPUs, gloo on CPUs. Without ``torchrun`` (``WORLD_SIZE`` unset) everything here is a
no-op and training is exactly the single-process loop.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
from torch import distributed as dist


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world: int = 1

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        """The rank that evaluates, writes and prints."""
        return self.rank == 0


def setup(device: torch.device) -> Ranks:
    """Join the process group ``torchrun`` describes in the environment (once); one rank without it."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return Ranks()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return current()


def current() -> Ranks:
    """This process's place among the ranks (one rank when no process group was joined)."""
    return Ranks(dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else Ranks()


def local_device(device: torch.device, ranks: Ranks) -> torch.device:
    """With several ranks on CUDA, each takes the GPU of its local rank."""
    if not ranks.active or device.type != "cuda":
        return device
    local = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    torch.cuda.set_device(local)
    return local


def shard(indexes: np.ndarray, ranks: Ranks) -> np.ndarray:
    """This rank's share of a global batch (every ``world``-th sample, starting at its rank)."""
    return indexes[ranks.rank :: ranks.world]


def gather_rows(t: torch.Tensor, ranks: Ranks) -> torch.Tensor:
    """Every rank's rows of ``t``, concatenated in rank order (shares may differ in length by one)."""
    if not ranks.active:
        return t
    sizes = [torch.zeros(1, dtype=torch.long, device=t.device) for _ in range(ranks.world)]
    dist.all_gather(sizes, torch.tensor([len(t)], device=t.device))
    longest = int(max(s.item() for s in sizes))
    padded = torch.zeros((longest, *t.shape[1:]), dtype=t.dtype, device=t.device)
    padded[: len(t)] = t
    parts = [torch.zeros_like(padded) for _ in range(ranks.world)]
    dist.all_gather(parts, padded)
    return torch.cat([p[: int(s.item())] for p, s in zip(parts, sizes, strict=True)])


def mean(value: float, ranks: Ranks, device: torch.device) -> float:
    """The average of ``value`` over the ranks."""
    if not ranks.active:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t.item()) / ranks.world


def broadcast(value: float, ranks: Ranks, device: torch.device) -> float:
    """Rank 0's ``value`` on every rank (one decision, taken once)."""
    if not ranks.active:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.broadcast(t, 0)
    return float(t.item())


def finish() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
