"""Feature extractors shared by training (``dmsil.prepare``) and the live pipeline.

The same code computes a model's inputs when a feature store is prepared and when a camera streams, and
:func:`build` rebuilds it from a checkpoint's :class:`~dmsil.config.FeatureSpec` or refuses with a reason.
Heavy packages (mediapipe, opensmile, whisper, transformers) are imported by the extractors themselves.
"""

from __future__ import annotations

import importlib.metadata
import logging
from dataclasses import dataclass

import numpy as np

from dmsil.config import FeatureSpec
from dmsil.errors import DmsilError
from dmsil.features.cache import cache_root

log = logging.getLogger(__name__)

EXTRACTOR_SET = "dmsil-extractors-1"
"""Name of this set of extractors; bump it whenever any extractor's output changes."""
VERSIONED = ("opensmile", "mediapipe", "torchaudio", "transformers", "ai-edge-litert", "fer")


def versions() -> dict[str, str]:
    found = {}
    for name in VERSIONED:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "missing"
    return found


def describe(text_model: str | None = None, text_max_length: int = 50, asr: dict | None = None) -> FeatureSpec:
    """The FeatureSpec of this extractor set (without normalization statistics, which come from data)."""
    from dmsil.features.audio import FRAME_RATE, AcousticExtractor
    from dmsil.features.face import FACE_FEATURE_NAMES
    from dmsil.features.media import VIDEO_RATE
    from dmsil.features.text import MINILM

    audio_names = list(AcousticExtractor().names)
    return FeatureSpec(
        source=EXTRACTOR_SET,
        text=f"token ids and frozen states of {text_model or MINILM}",
        audio=f"{len(audio_names)}-d eGeMAPSv02 LLDs (openSMILE) + MFCCs (torchaudio) at {FRAME_RATE:g} Hz",
        video=f"{len(FACE_FEATURE_NAMES)}-d Face Mesh geometry, head pose, FER2013 expressions at {VIDEO_RATE:g} Hz",
        audio_rate_hz=FRAME_RATE,
        video_rate_hz=VIDEO_RATE,
        audio_names=audio_names,
        video_names=list(FACE_FEATURE_NAMES),
        text_model=text_model or MINILM,
        text_max_length=text_max_length,
        asr=dict(asr or {}),
        versions=versions(),
    )


def resolve_text_model(name: str | None) -> str:
    """A local folder for a FeatureSpec's text model (a packaged encoder's name, or a path)."""
    from dmsil.features.text import MINILM, PACKAGED, packaged_text_model

    name = name or MINILM
    return packaged_text_model(name) if name in PACKAGED else name


def normalize(x: np.ndarray, stats: dict[str, list[float]] | None) -> np.ndarray:
    """``(x - mean) / std`` with the stored statistics (identity when there are none)."""
    if not stats:
        return x
    return ((x - np.asarray(stats["mean"], np.float32)) / np.asarray(stats["std"], np.float32)).astype(np.float32)


@dataclass
class Extractors:
    """The extractors a FeatureSpec names, ready to run (one set per thread)."""

    spec: FeatureSpec
    acoustic: object
    face: object
    text: object

    def audio_features(self, audio16k: np.ndarray) -> np.ndarray:
        return normalize(self.acoustic(audio16k), self.spec.normalization.get("audio"))

    def video_features(self, rgb: np.ndarray) -> np.ndarray:
        return normalize(self.face(rgb).vector[None], self.spec.normalization.get("video"))[0]


def require_computable(spec: FeatureSpec, owner: str = "the model") -> None:
    """Fail with the reason unless this code can compute ``spec``'s features (the one place that decides it)."""
    if spec.source != EXTRACTOR_SET:
        raise DmsilError(
            f"{owner}: trained on features from {spec.source!r}, which cannot be computed here (this is "
            f"{EXTRACTOR_SET}); train on a feature store made by `python -m dmsil.prepare`"
        )


def build(spec: FeatureSpec) -> Extractors:
    """Rebuild exactly the extractors that made ``spec``'s features, or fail with the reason."""
    require_computable(spec)
    from dmsil.features.audio import AcousticExtractor
    from dmsil.features.face import FACE_FEATURE_NAMES, FaceExtractor
    from dmsil.features.text import TextFeaturizer, TextOptions

    acoustic = AcousticExtractor()
    for kind, ours, theirs in (
        ("audio", list(acoustic.names), spec.audio_names),
        ("video", list(FACE_FEATURE_NAMES), spec.video_names),
    ):
        if ours != theirs:
            raise DmsilError(f"{kind} features differ from the checkpoint's ({len(ours)} here, {len(theirs)} there)")
    for name, version in versions().items():
        if spec.versions.get(name, version) != version:
            log.warning("%s %s here, %s when the features were made", name, version, spec.versions[name])
    text = TextFeaturizer(TextOptions(resolve_text_model(spec.text_model), spec.text_max_length))
    return Extractors(spec, acoustic, FaceExtractor(), text)


__all__ = [
    "EXTRACTOR_SET",
    "Extractors",
    "build",
    "cache_root",
    "describe",
    "normalize",
    "require_computable",
    "resolve_text_model",
    "versions",
]
