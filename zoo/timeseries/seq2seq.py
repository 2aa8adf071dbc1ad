"""The attention encoder-decoder (Bahdanau, Cho & Bengio 2015, arXiv:1409.0473) applied to forecasting.

A bidirectional GRU encodes the lookback window into one state per step (the *annotations*). A
GRU-cell decoder then emits the horizon one step at a time: at step ``i`` its previous state
``s_{i-1}`` queries the annotations with additive attention (``zoo.layers.attention``), giving a
context ``c_i``; ``s_i = GRU([y_{i-1}, c_i], s_{i-1})`` and ``y_i = W [s_i, c_i, y_{i-1}]``. The
first decoder input ``y_0`` is the last observed value; the first state comes from the encoder's
final states through ``tanh(W ·)``, as in the paper.

While training, each step's input is the true previous value with probability
``teacher_forcing`` and the model's own forecast otherwise (scheduled sampling, Bengio et al.
2015, arXiv:1506.03099); at inference the decoder always feeds itself.
"""

from __future__ import annotations

from typing import Unpack

import torch
from torch import Tensor, nn

from preprocessing.errors import UserError
from zoo.layers.attention import AdditiveAttention
from zoo.registry import register_model
from zoo.tasks import OptimArgs
from zoo.tasks.forecasting import Forecaster, ForecastLoss, WindowNorm

__all__ = ["AttentionSeq2SeqForecaster", "AttentionSeq2SeqNet"]


class AttentionSeq2SeqNet(nn.Module):
    """``(B, lookback, input_size) → (B, horizon, num_targets)``; the targets are the first inputs."""

    def __init__(
        self,
        input_size: int,
        num_targets: int,
        horizon: int,
        hidden_size: int = 64,
        attention_size: int = 64,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.horizon, self.num_targets = horizon, num_targets
        self.encoder = nn.GRU(input_size, hidden_size, batch_first=True, bidirectional=True)
        width = 2 * hidden_size  # annotation width: both directions
        self.bridge = nn.Linear(width, hidden_size)
        self.attention = AdditiveAttention(hidden_size, width, attention_size)
        self.decoder = nn.GRUCell(num_targets + width, hidden_size)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size + width + num_targets, num_targets)

    def forward(
        self, x: Tensor, target: Tensor | None = None, teacher_forcing: float = 0.0, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Forecast; ``target (B, horizon, num_targets)`` enables teacher forcing.

        With ``return_attention`` also returns the attention weights ``(B, horizon, lookback)``.
        """
        keys, final = self.encoder(x)  # (B, L, 2·hidden), (2, B, hidden)
        state = torch.tanh(self.bridge(torch.cat([final[0], final[1]], dim=-1)))  # (B, hidden)
        y_prev = x[:, -1, : self.num_targets]  # (B, T): the last observation
        outputs, weights = [], []
        for i in range(self.horizon):
            context, w = self.attention(state, keys)  # (B, 2·hidden), (B, L)
            state = self.decoder(torch.cat([y_prev, context], dim=-1), state)
            y = self.out(self.drop(torch.cat([state, context, y_prev], dim=-1)))  # (B, T)
            outputs.append(y)
            weights.append(w)
            if target is not None and teacher_forcing > 0:
                use_truth = torch.rand(y.shape[0], 1, device=y.device) < teacher_forcing
                y_prev = torch.where(use_truth, target[:, i].to(y.dtype), y)
            else:
                y_prev = y
        forecast = torch.stack(outputs, dim=1)
        return (forecast, torch.stack(weights, dim=1)) if return_attention else forecast


class AttentionSeq2SeqForecaster(Forecaster):
    """Bahdanau attention encoder-decoder forecaster.

    Args:
        hidden_size: GRU width (per direction in the encoder).
        attention_size: hidden width of the additive attention score.
        dropout: dropout before each step's output layer.
        teacher_forcing: probability of feeding the true previous value while training.
    """

    def __init__(
        self,
        hidden_size: int = 64,
        attention_size: int = 64,
        dropout: float = 0.1,
        teacher_forcing: float = 0.0,
        input_size: int | None = None,
        num_targets: int | None = None,
        horizon: int | None = None,
        lookback: int | None = None,
        window_norm: WindowNorm = "last",
        window_scale: bool = True,
        loss: ForecastLoss = "mse",
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(input_size, num_targets, horizon, lookback, window_norm, window_scale, loss, **optim)
        self.save_hyperparameters()
        if not 0.0 <= teacher_forcing <= 1.0:
            raise UserError(f"teacher_forcing is a probability, got {teacher_forcing}")
        self.teacher_forcing = teacher_forcing
        self.net = AttentionSeq2SeqNet(
            self.input_size, self.num_targets, self.horizon, hidden_size, attention_size, dropout
        )

    def forecast(self, z: Tensor, target: Tensor | None = None) -> Tensor:
        return self.net(z, target if self.training else None, self.teacher_forcing)


_CO2 = {"input_size": 1, "num_targets": 1, "lookback": 36, "horizon": 12}
register_model("seq2seq_forecaster", AttentionSeq2SeqForecaster, _CO2,
               modality="timeseries", task="forecasting", reference="Bahdanau, Cho & Bengio 2015, arXiv:1409.0473",
               config="configs/timeseries/seq2seq_co2.yaml",
               test_overrides={"lookback": 16, "horizon": 4, "input_size": 2, "num_targets": 1})
