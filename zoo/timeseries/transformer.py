"""Transformer forecaster on patches of the lookback window.

Tokens are non-overlapping patches of ``patch_len`` steps (all variables of a patch in one
token), as in PatchTST (Nie, Nguyen, Sinthong & Kalagnanam 2023, "A Time Series is Worth 64
Words", arXiv:2211.14730): fewer, more informative tokens than one per step, so attention is
cheaper and less noisy on short series. Pre-norm transformer blocks (Vaswani et al. 2017,
arXiv:1706.03762; ``zoo.layers.transformer``) with fixed sinusoidal positions read the tokens
bidirectionally (the whole window is history), and a flatten head maps every token's features to
the whole horizon at once (direct multi-horizon output, PatchTST's head).
"""

from __future__ import annotations

from typing import Unpack

import torch.nn.functional as F
from torch import Tensor, nn

from preprocessing.errors import UserError
from zoo.layers.positional import SinusoidalPositionalEncoding
from zoo.layers.transformer import TransformerBlock
from zoo.registry import register_model
from zoo.tasks import OptimArgs
from zoo.tasks.forecasting import Forecaster, ForecastLoss, WindowNorm

__all__ = ["TransformerForecaster", "TransformerForecasterNet"]


class TransformerForecasterNet(nn.Module):
    """``(B, lookback, input_size) → (B, horizon, num_targets)``.

    A lookback that is not a multiple of ``patch_len`` is left-padded with its first value, so
    the newest step always closes the last patch.
    """

    def __init__(
        self,
        input_size: int,
        num_targets: int,
        horizon: int,
        lookback: int,
        patch_len: int = 4,
        dim: int = 64,
        depth: int = 2,
        num_heads: int = 4,
        mlp_ratio: float = 2.0,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if patch_len < 1:
            raise UserError(f"patch_len must be >= 1, got {patch_len}")
        self.horizon, self.num_targets, self.patch_len = horizon, num_targets, patch_len
        self.num_patches = -(-lookback // patch_len)  # ceil
        self.pad = self.num_patches * patch_len - lookback
        self.embed = nn.Linear(patch_len * input_size, dim)
        self.position = SinusoidalPositionalEncoding(dim, max_len=self.num_patches)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(dim, num_heads, mlp_ratio, dropout, attn_dropout=dropout) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Sequential(  # every token's features → the whole horizon
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(self.num_patches * dim, horizon * num_targets)
        )

    def forward(self, x: Tensor) -> Tensor:
        b, _, c = x.shape
        if self.pad:
            x = F.pad(x.transpose(1, 2), (self.pad, 0), mode="replicate").transpose(1, 2)
        tokens = x.reshape(b, self.num_patches, self.patch_len * c)  # (B, N, P·C), oldest patch first
        h = self.drop(self.position(self.embed(tokens)))  # (B, N, dim)
        for block in self.blocks:
            h = block(h)
        return self.head(self.norm(h)).view(b, self.horizon, self.num_targets)


class TransformerForecaster(Forecaster):
    """Transformer forecaster on patches (PatchTST-style tokens and head).

    Args:
        patch_len: steps per token.
        dim: token width.
        depth: transformer blocks.
        num_heads: attention heads.
        mlp_ratio: feed-forward width as a multiple of ``dim``.
        dropout: dropout on embeddings, residual branches, attention and the head.
    """

    def __init__(
        self,
        patch_len: int = 4,
        dim: int = 64,
        depth: int = 2,
        num_heads: int = 4,
        mlp_ratio: float = 2.0,
        dropout: float = 0.1,
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
        self.net = TransformerForecasterNet(
            self.input_size, self.num_targets, self.horizon, self.lookback, patch_len, dim, depth, num_heads,
            mlp_ratio, dropout,
        )


_CO2 = {"input_size": 1, "num_targets": 1, "lookback": 36, "horizon": 12}
register_model("transformer_forecaster", TransformerForecaster, _CO2,
               modality="timeseries", task="forecasting",
               reference="Vaswani et al. 2017, arXiv:1706.03762; Nie et al. 2023 (PatchTST), arXiv:2211.14730",
               config="configs/timeseries/transformer_co2.yaml",
               test_overrides={"lookback": 18, "horizon": 4, "input_size": 2, "num_targets": 1})
