"""A bidirectional recurrent classifier on MFCC frames: BiGRU (Cho et al. 2014, arXiv:1406.1078) or
BiLSTM (Hochreiter & Schmidhuber 1997), the deep bidirectional recurrent acoustic model of Graves,
Mohamed & Hinton 2013 (arXiv:1303.5778), pooled over time with additive attention (Bahdanau et al.
2015, arXiv:1409.0473, as a learned-query pooling: Yang et al. 2016) and classified linearly.

The MFCC frames ``(B, n_mfcc, frames)`` are read as a sequence ``(B, frames, n_mfcc)``. Attention
pooling lets the network weight the few frames where the sound happens; ``pool="mean"`` averages
every frame instead.
"""

from __future__ import annotations

from typing import Literal, Unpack

from torch import Tensor, nn

from zoo.audio.base import AudioClassifier, AudioNet
from zoo.layers.attention import AttentionPooling
from zoo.layers.audio import AudioFrontend
from zoo.layers.recurrent import make_rnn
from zoo.registry import register_model
from zoo.tasks import OptimArgs
from zoo.tasks.classification import ClassificationTask

__all__ = ["AudioRNN", "RecurrentBody"]


class RecurrentBody(nn.Module):
    """``(B, C, frames)`` features → ``(B, num_outputs)``."""

    def __init__(
        self,
        num_outputs: int,
        input_size: int,
        cell: Literal["gru", "lstm"] = "gru",
        hidden_size: int = 128,
        num_layers: int = 2,
        bidirectional: bool = True,
        dropout: float = 0.2,
        pool: Literal["attention", "mean"] = "attention",
    ) -> None:
        super().__init__()
        self.rnn = make_rnn(cell, input_size, hidden_size, num_layers, dropout, bidirectional)
        width = hidden_size * (2 if bidirectional else 1)
        self.pool = AttentionPooling(width) if pool == "attention" else None
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, num_outputs))

    def forward(self, x: Tensor) -> Tensor:
        states, _ = self.rnn(x.transpose(1, 2))  # (B, frames, C) → (B, frames, width)
        pooled = states.mean(1) if self.pool is None else self.pool(states)[0]  # (B, width)
        return self.head(pooled)


class AudioRNN(AudioClassifier):
    """Bidirectional GRU/LSTM on MFCC (or log-mel) frames with attention pooling.

    Args:
        cell: ``gru`` or ``lstm``.
        hidden_size: hidden units per direction.
        num_layers: stacked recurrent layers.
        bidirectional: read the clip both ways.
        dropout: between recurrent layers and before the classifier.
        pool: ``attention`` (learned weights over frames) or ``mean``.
        representation: ``mfcc`` (default) or ``logmel``.
        window_ms, hop_ms, n_mels, n_mfcc, f_min, f_max: the frontend (:class:`~zoo.layers.audio.AudioFrontend`).
        time_masks, time_width, freq_masks, freq_width: SpecAugment in training (0 masks: off).
    """

    def __init__(
        self,
        cell: Literal["gru", "lstm"] = "gru",
        hidden_size: int = 128,
        num_layers: int = 2,
        bidirectional: bool = True,
        dropout: float = 0.2,
        pool: Literal["attention", "mean"] = "attention",
        representation: Literal["mfcc", "logmel"] = "mfcc",
        window_ms: float = 25.0,
        hop_ms: float = 10.0,
        n_mels: int = 64,
        n_mfcc: int = 40,
        f_min: float = 0.0,
        f_max: float | None = None,
        time_masks: int = 0,
        time_width: int = 10,
        freq_masks: int = 0,
        freq_width: int = 8,
        num_classes: int | None = None,
        sample_rate: int | None = None,
        num_samples: int | None = None,
        task: ClassificationTask | None = None,
        label_smoothing: float = 0.0,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(num_classes, sample_rate, num_samples, task, label_smoothing, **optim)
        self.save_hyperparameters()
        frontend = AudioFrontend(
            representation, self.sample_rate, window_ms, hop_ms, n_mels, n_mfcc, f_min, f_max,
            time_masks, time_width, freq_masks, freq_width,
        )
        body = RecurrentBody(self.num_outputs, frontend.channels, cell, hidden_size, num_layers, bidirectional,
                             dropout, pool)
        self.net = AudioNet(frontend, body)


_REF = "Graves et al. 2013, arXiv:1303.5778; Cho et al. 2014, arXiv:1406.1078"
_EMBEDDED = {"num_classes": 16, "sample_rate": 8000, "num_samples": 8000}  # the embedded DTMF task
_TEST = {"num_classes": 5, "num_samples": 2000}  # 0.25 s: a quick CPU test
register_model("mfcc_bigru", AudioRNN, dict(cell="gru", **_EMBEDDED), modality="audio", task="classification",
               reference=_REF, config="configs/audio/mfcc_bigru.yaml", test_overrides=_TEST)
