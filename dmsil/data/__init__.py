"""Datasets: MMSA pickles, feature stores made by ``dmsil.prepare``, synthetic data, batching."""

from __future__ import annotations

from pathlib import Path

from dmsil.data.mmsa import MMSAData, load_mmsa


def load(path: str | Path, dataset: str | None = None) -> MMSAData:
    """An MMSA pickle or a feature store directory, validated; errors are one line naming the file."""
    from dmsil.data.store import is_store, load_store

    return load_store(path) if is_store(path) else load_mmsa(path, dataset)


__all__ = ["MMSAData", "load", "load_mmsa"]
