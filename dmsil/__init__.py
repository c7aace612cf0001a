"""dmsil: shared and private information learning for multimodal sentiment analysis.

The model of Lai et al. (arXiv 2305.08473): Self-MM's self-supervised unimodal labels and multi-task
heads for each modality's private information, plus covariance-based deep modal alignment for the
information shared between modality pairs. Importing it needs only torch, numpy and safetensors.
"""

from dmsil.checkpoint import load
from dmsil.config import AlignmentConfig, FeatureSpec, ModelConfig, TrainConfig
from dmsil.model import DMSIL

__version__ = "0.1.0"

__all__ = ["DMSIL", "AlignmentConfig", "FeatureSpec", "ModelConfig", "TrainConfig", "load", "__version__"]
