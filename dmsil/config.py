"""Configuration dataclasses for the model, its training and the features it expects.

Every choice the paper leaves open (Lai et al., arXiv 2305.08473 gives no code) is a named field here,
with the intent it serves in its docstring, so an ablation is a change of fields and a checkpoint
records exactly what was trained.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

MODALITIES = ("T", "A", "V")
"""Unimodal task names, as Self-MM names its heads (the fused head is ``M``)."""

DATASET_BOUND = {"mosi": 3.0, "mosei": 3.0, "sims": 1.0}
"""Label range H of each dataset family: MOSI/MOSEI use [-3, 3], CH-SIMS uses [-1, 1]."""


def parse_pairs(text: str) -> tuple[str, ...]:
    """``"TA,TV"`` -> ``("TA", "TV")``, each pair two distinct modalities out of T, A, V, in T-A-V order."""
    pairs = []
    for raw in text.split(","):
        pair = raw.strip().upper()
        if not pair:
            continue
        if len(pair) != 2 or pair[0] == pair[1] or any(m not in MODALITIES for m in pair):
            raise ValueError(f"bad modality pair {raw!r}: use two of T, A, V, e.g. TA,TV,AV")
        pair = "".join(sorted(pair, key=MODALITIES.index))
        if pair not in pairs:
            pairs.append(pair)
    return tuple(pairs)


@dataclass(frozen=True)
class AlignmentConfig:
    """The paper's deep modal alignment: the *shared* information between modality pairs.

    Each modality feature is mapped by a learned linear projection into one common space of
    ``shared_dim``; for each pair (i, j) the batch covariance matrices of the two projections are
    pulled together with a Deep CORAL term ``weight_ij * ||C_i - C_j||_F^2 / (4 d^2)``.
    """

    pairs: tuple[str, ...] = ("TA", "TV", "AV")
    """Modality pairs that are aligned: the paper's "parameterization" choice. Empty = pure Self-MM."""
    weights: tuple[float, ...] = (1.0, 1.0, 1.0)
    """lambda_ij per pair (same order as ``pairs``); one value is broadcast to every pair."""
    shared_dim: int = 32
    """Size d of the common space in which covariances are compared."""
    fuse_shared: bool = True
    """Feed the shared projections to the fused head too. Without a task signal the projections
    could shrink to zero and make the covariance term vanish trivially; feeding them to the fused
    head gives them a reason to stay informative (the paper's point: shared information helps
    fusion). It does not forbid shrinking: the fused head's weights can grow to make up for it."""

    def __post_init__(self) -> None:
        # frozen: the normalized forms are set once, here (lists from JSON become tuples)
        object.__setattr__(self, "pairs", tuple(self.pairs))
        weights = tuple(float(w) for w in self.weights)
        if len(weights) == 1 and len(self.pairs) != 1:
            weights = weights * len(self.pairs)
        if len(weights) != len(self.pairs):
            raise ValueError(f"{len(self.pairs)} alignment pairs but {len(weights)} weights")
        if any(w < 0 for w in weights):
            raise ValueError("alignment weights must be >= 0")
        object.__setattr__(self, "weights", weights)

    @property
    def enabled(self) -> bool:
        """False means the model is exactly Self-MM (no shared branch at all)."""
        return bool(self.pairs)


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of the dmsil model (Self-MM defaults for MOSI where Self-MM defines one)."""

    text_dim: int = 768
    """Width of precomputed text features (MMSA ``text``: BERT-base states) when no encoder is used."""
    audio_dim: int = 5
    """Audio frame feature size (MOSI 5, MOSEI 74, SIMS 33)."""
    video_dim: int = 20
    """Video frame feature size (MOSI 20, MOSEI 35, SIMS 709)."""
    text_model: str | None = None
    """Local ``transformers`` AutoModel directory fine-tuned end to end; None = precomputed features."""
    text_max_length: int = 50
    """Tokens kept per utterance when tokenizing raw text for ``text_model`` (MMSA uses 50, SIMS 39)."""
    text_pooling: str = "cls"
    """How a token sequence becomes one vector: ``cls`` (Self-MM takes BERT's [CLS]) or masked ``mean``."""
    text_out: int = 768
    """Text representation size fed to the heads (Self-MM: 768, BERT's width)."""
    text_train_layers: int | None = None
    """Fine-tune only the top N transformer layers; embeddings and lower layers stay as loaded. None =
    everything (Self-MM). Freezing the bottom saves backward passes on a CPU and, for a packaged encoder,
    lets a checkpoint store only the layers that changed."""
    audio_hidden: int = 16
    video_hidden: int = 32
    audio_out: int = 16
    video_out: int = 32
    lstm_layers: int = 1
    lstm_dropout: float = 0.0
    post_fusion_dim: int = 128
    post_text_dim: int = 32
    post_audio_dim: int = 16
    post_video_dim: int = 32
    post_fusion_dropout: float = 0.0
    post_text_dropout: float = 0.1
    post_audio_dropout: float = 0.1
    post_video_dropout: float = 0.0
    polarity: bool = False
    """Also read the pooled text as three classes (negative, neutral, positive): output ``P``, whose weights are
    fitted after training on lines labelled that way (``scripts/default_model/polarity.py``). Whether a line
    states an opinion at all is a question of its own: one score through a neutral band misses it."""
    label_bound: float = 3.0
    """H: generated unimodal labels are clamped to [-H, H] (3 for MOSI/MOSEI, 1 for SIMS)."""
    alignment: AlignmentConfig = field(default_factory=AlignmentConfig)

    @classmethod
    def for_dataset(cls, dataset: str, **overrides: Any) -> ModelConfig:
        """Self-MM's published per-dataset architecture (MMSA ``self_mm`` config), then ``overrides``."""
        base: dict[str, Any] = {"label_bound": DATASET_BOUND[dataset]}
        if dataset == "mosei":
            base.update(post_fusion_dropout=0.1, post_text_dropout=0.0, post_audio_dropout=0.0)
        elif dataset == "sims":
            base.update(video_hidden=64, post_text_dim=64)
        base.update(overrides)
        return cls(**base)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error so a newer config is not half-read."""
        data = dict(data)
        alignment = AlignmentConfig(**data.pop("alignment", {}))
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown model config fields {unknown} (written by a newer dmsil?)")
        return cls(alignment=alignment, **data)


@dataclass(frozen=True)
class TrainConfig:
    """Self-MM's optimisation recipe (MMSA ``self_mm`` defaults for MOSI)."""

    dataset: str = "mosi"
    """Dataset family: sets the metrics, H and which labels exist (``mosi``, ``mosei``, ``sims``)."""
    batch_size: int = 16
    max_epochs: int = 100
    early_stop: int = 8
    """Stop after this many epochs without a better validation loss (MMSA's KeyEval ``Loss``)."""
    update_every: int = 4
    """Accumulate gradients over this many batches before an optimizer step (MMSA ``update_epochs``)."""
    step_partial_group: bool = False
    """Also step on the epoch's trailing batches when they are fewer than ``update_every``. MMSA's Self-MM
    drops them (its end-of-epoch step never fires; the next epoch zeroes the gradients): False matches it."""
    lr_text: float = 5e-5
    """Learning rate of a fine-tuned transformer text encoder."""
    lr_audio: float = 5e-3
    lr_video: float = 5e-3
    lr_other: float = 1e-3
    weight_decay_text: float = 1e-3
    weight_decay_audio: float = 1e-3
    weight_decay_video: float = 1e-3
    weight_decay_other: float = 1e-3
    exclude_zero: bool = True
    """ULGM positive centre from labels > 0 (True, MMSA default) or >= 0."""
    loss: str = "l1"
    """Per-task regression loss: ``l1`` (Self-MM) or ``mse``. Binary targets such as fresh/rotten mapped to
    +-2 call for ``mse``: its optimum is the expected label, a graded score, where L1's is the median, +-2."""
    given_labels: tuple[str, ...] = ()
    """Unimodal heads trained on the data's own labels (``regression_labels_T/A/V``) instead of ULGM's
    generated ones; a NaN label means "no label": that head gets no loss on that sample."""
    seed: int = 1111
    num_threads: int = 0
    """torch intra-op threads; 0 leaves torch's default."""
    device: str = "auto"
    """``auto`` (CUDA when present), ``cpu``, ``cuda`` or ``cuda:N`` (:func:`dmsil.devices.resolve`)."""
    amp: bool = False
    """Mixed precision (float16 autocast with a gradient scaler) on CUDA; ignored, with a warning, on a CPU."""

    @classmethod
    def for_dataset(cls, dataset: str, **overrides: Any) -> TrainConfig:
        """Self-MM's published per-dataset optimiser settings (MMSA ``self_mm`` config), then ``overrides``."""
        base: dict[str, Any] = {"dataset": dataset}
        if dataset == "mosei":
            base.update(
                batch_size=32, lr_video=1e-4, weight_decay_audio=0.0, weight_decay_video=0.0, weight_decay_other=0.01
            )
        elif dataset == "sims":
            base.update(batch_size=32, weight_decay_audio=0.01, weight_decay_video=0.01)
        base.update(overrides)
        return cls(**base)

    def __post_init__(self) -> None:
        if self.dataset not in DATASET_BOUND:
            raise ValueError(f"unknown dataset {self.dataset!r}: use one of {sorted(DATASET_BOUND)}")
        if self.loss not in ("l1", "mse"):
            raise ValueError(f"unknown loss {self.loss!r}: use 'l1' or 'mse'")
        object.__setattr__(self, "given_labels", tuple(self.given_labels))
        if any(m not in MODALITIES for m in self.given_labels):
            raise ValueError(f"given_labels {self.given_labels}: use heads out of {MODALITIES}")


@dataclass(frozen=True)
class FeatureSpec:
    """What produced the model's inputs, so a live pipeline can rebuild them or refuse, never guess.

    ``source`` is ``mmsa-pickle`` for features that came precomputed (COVAREP, Facet, ...: not
    reproducible here) or the name of the project's extractor set (``dmsil.features.EXTRACTOR_SET``).
    """

    source: str = "mmsa-pickle"
    text: str = ""
    audio: str = ""
    video: str = ""
    audio_rate_hz: float | None = None
    video_rate_hz: float | None = None
    audio_names: list[str] = field(default_factory=list)
    video_names: list[str] = field(default_factory=list)
    text_model: str | None = None
    """Encoder folder whose tokenizer (and frozen states) made the text input; ``packaged:<name>`` for the default."""
    text_max_length: int = 50
    asr: dict[str, str] = field(default_factory=dict)
    """Backend and model that made transcripts where the labels had none."""
    normalization: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    """Per-modality ``mean``/``std`` over the training frames; inputs are ``(x - mean) / std``."""
    versions: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_pickle(cls, data: Any) -> FeatureSpec:
        """Features that came precomputed in an MMSA pickle: named by file and size, nothing more is known."""
        dt, da, dv = data.dims
        name = data.path.name
        text = f"{dt}-d token states from {name}" if dt else f"token ids from {name}"
        return cls("mmsa-pickle", text, f"{da}-d frames from {name}", f"{dv}-d frames from {name}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
