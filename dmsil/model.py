"""The dmsil network: Self-MM's private heads plus the shared-information alignment branch.

Only torch is needed here: a transformers text encoder is imported when a checkpoint asks for one,
so engines can run the fusion model on machines without any feature extractor installed.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from dmsil.alignment import CovarianceAlignment
from dmsil.config import ModelConfig
from dmsil.errors import DmsilError

HEADS = ("M", "T", "A", "V")
POLARITY = "P"
POLARITY_CLASSES = ("negative", "neutral", "positive")
"""The order of output ``P``'s probabilities."""
_LAYER = re.compile(r"\blayers?\.(\d+)\.")


class MaskedLSTM(nn.Module):
    """Self-MM's AuViSubNet without ``pack_padded_sequence`` (which does not export to ONNX).

    The LSTM runs over the padded sequence and the output at each sample's last valid frame is taken:
    for a unidirectional LSTM that equals the final state of the packed run. A sample with length 0
    (modality missing) gets an all-zero representation instead of state from padding.
    """

    def __init__(self, in_dim: int, hidden: int, out_dim: int, layers: int = 1, dropout: float = 0.0):
        super().__init__()
        self.rnn = nn.LSTM(in_dim, hidden, num_layers=layers, dropout=dropout if layers > 1 else 0.0, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(hidden, out_dim)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        outputs, _ = self.rnn(x)
        lengths = lengths.to(device=x.device, dtype=torch.long).view(-1)
        last = (lengths - 1).clamp(min=0).view(-1, 1, 1).expand(-1, 1, outputs.shape[-1])
        h = outputs.gather(1, last).squeeze(1)
        present = (lengths > 0).to(h.dtype).unsqueeze(-1)
        return self.linear(self.dropout(h)) * present


def pool_tokens(states: torch.Tensor, mask: torch.Tensor, how: str) -> torch.Tensor:
    """One vector per sequence: the first ([CLS]) position or the masked mean of the valid tokens."""
    if how == "cls":
        return states[:, 0]
    if how == "mean":
        weights = mask.to(states.dtype).unsqueeze(-1)
        return (states * weights).sum(1) / weights.sum(1).clamp(min=1.0)
    raise ValueError(f"unknown text pooling {how!r}: use 'cls' or 'mean'")


class TextEncoder(nn.Module):
    """A fine-tunable ``transformers`` encoder from a local directory, or a projection of frozen states.

    MMSA pickles carry BERT states but no BERT weights; for them a trainable linear map over the pooled
    states stands in for fine-tuning. With ``text_model`` set, token ids go through the real encoder.
    """

    def __init__(self, config: ModelConfig, pretrained: bool = True):
        super().__init__()
        self.pooling = config.text_pooling
        self.train_layers = config.text_train_layers
        self.transformer: nn.Module | None = None
        self.projection: nn.Module | None = None
        if config.text_model:
            if not (Path(config.text_model) / "config.json").is_file():
                raise DmsilError(f"{config.text_model}: not a transformers model directory (no config.json)")
            from transformers import AutoConfig, AutoModel

            hf_config = AutoConfig.from_pretrained(config.text_model, local_files_only=True)
            if pretrained:
                self.transformer = AutoModel.from_pretrained(config.text_model, config=hf_config, local_files_only=True)
            else:  # weights come from a dmsil checkpoint right after
                self.transformer = AutoModel.from_config(hf_config)
            self.out_dim = int(hf_config.hidden_size)
            if config.text_train_layers is not None:
                freeze_lower(self.transformer, config.text_train_layers)
        else:
            self.out_dim = config.text_out
            self.projection = nn.Sequential(nn.Linear(config.text_dim, config.text_out), nn.Tanh())

    @property
    def fine_tuned(self) -> bool:
        return self.transformer is not None

    @property
    def first_trained_layer(self) -> int:
        """Index of the lowest fine-tuned layer: the states entering it never change during training."""
        total = len(self.transformer.encoder.layer)
        return total - (self.train_layers if self.train_layers is not None else total)

    @torch.no_grad()
    def frozen_states(self, text: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """States entering the first fine-tuned layer: computed once per sentence and cached for training."""
        hidden = self.transformer.embeddings(input_ids=text.long())
        return run_layers(self.transformer, hidden, mask, 0, self.first_trained_layer)

    def from_frozen(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Pooled text from :meth:`frozen_states`: the fine-tuned layers only, equal to :meth:`forward`."""
        top = run_layers(self.transformer, states, mask, self.first_trained_layer, None)
        present = (mask.sum(1, keepdim=True) > 0).to(top.dtype)
        return pool_tokens(top, mask, self.pooling) * present

    def forward(self, text: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Pooled text; all zeros for a sample whose mask is empty (no words: text missing)."""
        present = (mask.sum(1, keepdim=True) > 0).to(torch.float32)
        if self.transformer is not None:
            # an all-masked row would make attention NaN: let it attend to its padding, then zero it
            attend = torch.where(present > 0, mask, torch.ones_like(mask)).long()
            states = self.transformer(input_ids=text.long(), attention_mask=attend).last_hidden_state
            return pool_tokens(states, mask, self.pooling) * present
        return self.projection(pool_tokens(text, mask, self.pooling)) * present


def run_layers(transformer: nn.Module, hidden: torch.Tensor, mask: torch.Tensor, start: int, stop: int | None):
    """Encoder layers ``start:stop`` of a BERT-style or MPNet ``transformers`` model over ``hidden``."""
    from transformers.masking_utils import create_bidirectional_mask

    attention = create_bidirectional_mask(config=transformer.config, inputs_embeds=hidden, attention_mask=mask.long())
    extra = {}
    if hasattr(transformer.encoder, "compute_position_bias"):  # MPNet: one relative-position bias for all layers
        extra["position_bias"] = transformer.encoder.compute_position_bias(hidden)
    for layer in transformer.encoder.layer[start:stop]:
        out = layer(hidden, attention, **extra)
        hidden = out[0] if isinstance(out, tuple) else out
    return hidden


def transformer_layer(name: str) -> int | None:
    """Index of the encoder layer a parameter belongs to (``...layer.3.attention...`` -> 3), else None."""
    match = _LAYER.search(name)
    return int(match.group(1)) if match else None


def freeze_lower(transformer: nn.Module, train_layers: int) -> list[str]:
    """Stop gradients to the embeddings and all but the top ``train_layers`` layers; returns the frozen names."""
    names = [n for n, _ in transformer.named_parameters()]
    layers = {i for n in names if (i := transformer_layer(n)) is not None}
    if not layers:
        raise DmsilError("text_train_layers: cannot find numbered encoder layers ('layer.N.') in this model")
    lowest_trained = max(layers) + 1 - train_layers
    frozen = []
    for name, param in transformer.named_parameters():
        layer = transformer_layer(name)
        if (layer is not None and layer < lowest_trained) or (layer is None and "embeddings" in name):
            param.requires_grad_(False)
            frozen.append(name)
    return frozen


class Head(nn.Module):
    """Self-MM's post layers: dropout, Linear-ReLU (the head's *feature*), Linear-ReLU, Linear to one score."""

    def __init__(self, in_dim: int, hidden: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.layer_1 = nn.Linear(in_dim, hidden)
        self.layer_2 = nn.Linear(hidden, hidden)
        self.layer_3 = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feature = F.relu(self.layer_1(self.dropout(x)))
        return self.layer_3(F.relu(self.layer_2(feature))).squeeze(-1), feature


class DMSIL(nn.Module):
    """Shared (covariance alignment) and private (Self-MM multi-task) information learning.

    ``forward`` returns the four scores ``M, T, A, V`` (batch,), Self-MM's head features
    ``Feature_f/t/a/v`` used by ULGM, the shared-space projections ``Shared_T/A/V`` of the
    modalities that take part in alignment and, with ``config.polarity``, the text's class
    probabilities ``P`` (batch, 3; :data:`POLARITY_CLASSES`).
    """

    def __init__(self, config: ModelConfig, pretrained: bool = True):
        super().__init__()
        self.text_encoder = TextEncoder(config, pretrained)
        # the encoder decides the text width; the caller's config is left as it was given
        self.config = config = dataclasses.replace(config, text_out=self.text_encoder.out_dim)
        self.audio_encoder = MaskedLSTM(
            config.audio_dim, config.audio_hidden, config.audio_out, config.lstm_layers, config.lstm_dropout
        )
        self.video_encoder = MaskedLSTM(
            config.video_dim, config.video_hidden, config.video_out, config.lstm_layers, config.lstm_dropout
        )
        dims = {"T": config.text_out, "A": config.audio_out, "V": config.video_out}
        self.alignment = CovarianceAlignment(config.alignment, dims) if config.alignment.enabled else None
        fused_in = sum(dims.values())
        if self.alignment is not None and config.alignment.fuse_shared:
            fused_in += config.alignment.shared_dim * len(self.alignment.projections)
        self.heads = nn.ModuleDict(
            {
                "M": Head(fused_in, config.post_fusion_dim, config.post_fusion_dropout),
                "T": Head(config.text_out, config.post_text_dim, config.post_text_dropout),
                "A": Head(config.audio_out, config.post_audio_dim, config.post_audio_dropout),
                "V": Head(config.video_out, config.post_video_dim, config.post_video_dropout),
            }
        )
        self.polarity = nn.Linear(config.text_out, len(POLARITY_CLASSES)) if config.polarity else None

    def forward(
        self,
        text: torch.Tensor | None,
        text_mask: torch.Tensor | None,
        audio: torch.Tensor,
        audio_lengths: torch.Tensor,
        video: torch.Tensor,
        video_lengths: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """``text`` None: no sample has words. The pooled text is then all zeros, as the encoder gives for an
        empty mask, without running the encoder (most of the model's cost, whatever the text's length)."""
        if text is None:
            words = audio.new_zeros(audio.shape[0], self.text_encoder.out_dim)
        else:
            words = self.text_encoder(text, text_mask)
        unimodal = {
            "T": words,
            "A": self.audio_encoder(audio, audio_lengths),
            "V": self.video_encoder(video, video_lengths),
        }
        return self.fuse(unimodal)

    def fuse(self, unimodal: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Scores, head features and shared projections from the three pooled modality vectors."""
        out: dict[str, torch.Tensor] = {}
        fused_parts = [unimodal["T"], unimodal["A"], unimodal["V"]]
        if self.alignment is not None:
            shared = self.alignment.project(unimodal)
            out.update({f"Shared_{m}": s for m, s in shared.items()})
            if self.config.alignment.fuse_shared:
                fused_parts.extend(shared.values())
        out["M"], out["Feature_f"] = self.heads["M"](torch.cat(fused_parts, dim=-1))
        for m, name in (("T", "t"), ("A", "a"), ("V", "v")):
            out[m], out[f"Feature_{name}"] = self.heads[m](unimodal[m])
        if self.polarity is not None:
            out[POLARITY] = torch.softmax(self.polarity(unimodal["T"]), dim=-1)
        return out

    def alignment_losses(self, out: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Weighted CORAL term per configured pair; empty for the Self-MM baseline."""
        if self.alignment is None:
            return {}
        return self.alignment.losses({m[-1]: t for m, t in out.items() if m.startswith("Shared_")})
