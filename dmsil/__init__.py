"""dmsil: shared and private information learning for multimodal sentiment analysis.

The model of Lai et al. (arXiv 2305.08473): Self-MM's self-supervised unimodal labels and multi-task
heads for each modality's private information, plus covariance-based deep modal alignment for the
information shared between modality pairs. Importing it needs only torch, numpy and safetensors.
"""

from pathlib import Path

from dmsil.checkpoint import load
from dmsil.config import AlignmentConfig, FeatureSpec, ModelConfig, TrainConfig
from dmsil.errors import CheckpointError
from dmsil.model import DMSIL
from dmsil.version import __version__


def default_checkpoint() -> Path:
    """The shipped default model (``python -m scripts.default_model.train``; see its MODEL_CARD.md)."""
    path = Path(__file__).resolve().parent / "default_model"
    if not (path / "model.safetensors").is_file():
        raise CheckpointError(
            f"{path}: the default model is missing (rebuild it: python -m scripts.default_model.train)"
        )
    return path


__all__ = [
    "DMSIL",
    "AlignmentConfig",
    "FeatureSpec",
    "ModelConfig",
    "TrainConfig",
    "default_checkpoint",
    "load",
    "__version__",
]
