"""BERT-style encoder: masked-LM pretraining, then classification fine-tuning.

Devlin, Chang, Lee & Toutanova 2019, "BERT: Pre-training of Deep Bidirectional Transformers for
Language Understanding", arXiv:1810.04805. The input is the sum of token, learned position and
segment (token type) embeddings, normalised; a stack of bidirectional transformer blocks follows.
Pretraining predicts the 15% chosen tokens (80% replaced by ``[MASK]``, 10% by a random token, 10%
kept: the datamodule applies it) through a transform (dense → GELU → LayerNorm) and a decoder
tied to the token embedding. Fine-tuning keeps the encoder and adds a pooler (dense → tanh) and a
linear classifier.

Differences from the paper, on purpose: pre-norm blocks with a final LayerNorm (Xiong et al. 2020,
arXiv:2002.04745; stabler at small scale and high learning rates) and no next-sentence objective
(Liu et al. 2019, RoBERTa, arXiv:1907.11692, found it unnecessary). Sizes follow Turc et al. 2019
("Well-Read Students Learn Better", arXiv:1908.08962): the preset is BERT-Tiny (2 layers, 128 wide);
``dim=256, depth=4, num_heads=4`` is their BERT-Mini.

Both LightningModules hold the encoder at ``net.encoder``, so ``--init_from <pretraining export>``
on a :class:`BertClassifier` takes over every encoder tensor and starts the pooler and head fresh.
"""

from __future__ import annotations

from typing import Unpack

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zoo.layers.positional import LearnedPositionalEmbedding
from zoo.layers.transformer import TransformerBlock, init_normal_
from zoo.registry import register_model
from zoo.tasks import MaskedLM, OptimArgs, TextClassifier
from zoo.tasks.classification import ClassificationTask
from zoo.text.transformer import Pooling, check_length, pool

__all__ = ["BertClassifier", "BertClassifierNet", "BertEncoder", "BertMLMNet", "BertPretraining"]


class BertEncoder(nn.Module):
    """``ids (B, T)``, optional ``token_type_ids (B, T)`` and ``key_mask (B, T)`` → ``(B, T, dim)``."""

    def __init__(
        self,
        vocab_size: int,
        max_seq_len: int,
        dim: int,
        depth: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        dropout: float = 0.1,
        type_vocab_size: int = 2,
    ) -> None:
        super().__init__()
        self.max_seq_len, self.type_vocab_size = max_seq_len, type_vocab_size
        self.tokens = nn.Embedding(vocab_size, dim)
        self.positions = LearnedPositionalEmbedding(dim, max_seq_len)
        self.segments = nn.Embedding(type_vocab_size, dim)
        self.embed_norm = nn.LayerNorm(dim, eps=1e-12)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(dim, num_heads, mlp_ratio, dropout, attn_dropout=dropout, norm_eps=1e-12)
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim, eps=1e-12)
        init_normal_(self)

    def forward(self, ids: Tensor, token_type_ids: Tensor | None = None, key_mask: Tensor | None = None) -> Tensor:
        check_length(ids, self.max_seq_len)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(ids)
        elif token_type_ids.shape != ids.shape:
            raise ValueError(f"token_type_ids {tuple(token_type_ids.shape)} and input ids {tuple(ids.shape)} differ")
        x = self.positions(self.tokens(ids)) + self.segments(token_type_ids)  # (B, T, dim)
        x = self.drop(self.embed_norm(x))
        for block in self.blocks:
            x = block(x, key_mask=key_mask)
        return self.norm(x)


class BertMLMNet(nn.Module):
    """Encoder + masked-LM head: logits ``(B, T, vocab_size)``; the decoder is the token embedding (tied)."""

    def __init__(self, encoder: BertEncoder, pad_token_id: int | None) -> None:
        super().__init__()
        self.encoder, self.pad_token_id = encoder, pad_token_id
        dim = encoder.tokens.embedding_dim
        self.transform = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.LayerNorm(dim, eps=1e-12))
        self.decoder_bias = nn.Parameter(torch.zeros(encoder.tokens.num_embeddings))
        init_normal_(self.transform)

    def forward(self, ids: Tensor, token_type_ids: Tensor | None = None) -> Tensor:
        mask = None if self.pad_token_id is None else ids != self.pad_token_id
        hidden = self.transform(self.encoder(ids, token_type_ids, mask))  # (B, T, dim)
        # tied by construction (one tensor, one name in the state dict): logits = h Eᵀ + b
        return F.linear(hidden, self.encoder.tokens.weight, self.decoder_bias)


class BertClassifierNet(nn.Module):
    """Encoder + pooler (dense → tanh on the pooled tokens) + dropout + linear head: ``(B, num_outputs)``."""

    def __init__(self, encoder: BertEncoder, pad_token_id: int, num_outputs: int, dropout: float, pooling: Pooling):
        super().__init__()
        self.encoder, self.pad_token_id, self.pooling = encoder, pad_token_id, pooling
        dim = encoder.tokens.embedding_dim
        self.pooler = nn.Sequential(nn.Linear(dim, dim), nn.Tanh())
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(dim, num_outputs))
        init_normal_(self.pooler)
        init_normal_(self.head)

    def forward(self, ids: Tensor, token_type_ids: Tensor | None = None) -> Tensor:
        mask = ids != self.pad_token_id  # (B, T)
        hidden = self.encoder(ids, token_type_ids, mask)
        return self.head(self.pooler(pool(hidden, mask, self.pooling)))


class BertPretraining(MaskedLM):
    """BERT masked-language-model pretraining.

    Args:
        dim: hidden width.
        depth: transformer blocks.
        num_heads: attention heads.
        mlp_ratio: feed-forward width as a multiple of ``dim``.
        dropout: dropout on embeddings, attention probabilities and residual branches.
        type_vocab_size: number of segment ids (2: sentence A and B).
    """

    def __init__(
        self,
        dim: int = 128,
        depth: int = 2,
        num_heads: int = 2,
        mlp_ratio: float = 4.0,
        dropout: float = 0.1,
        type_vocab_size: int = 2,
        vocab_size: int | None = None,
        max_seq_len: int | None = None,
        pad_token_id: int | None = None,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(vocab_size, max_seq_len, pad_token_id, **optim)
        self.save_hyperparameters()
        encoder = BertEncoder(
            self.vocab_size, self.max_seq_len, dim, depth, num_heads, mlp_ratio, dropout, type_vocab_size
        )
        self.net = BertMLMNet(encoder, pad_token_id)

    def forward(self, ids: Tensor, token_type_ids: Tensor | None = None) -> Tensor:
        return self.net(ids, token_type_ids)


class BertClassifier(TextClassifier):
    """BERT text classifier; start it from a :class:`BertPretraining` run with ``--init_from``.

    Args:
        dim, depth, num_heads, mlp_ratio, type_vocab_size: the encoder (as the pretrained model's).
        dropout: dropout in the encoder and before the head.
        pooling: ``mean`` over real tokens, or the ``first`` token (``[CLS]``, when the tokenizer adds it).
    """

    def __init__(
        self,
        dim: int = 128,
        depth: int = 2,
        num_heads: int = 2,
        mlp_ratio: float = 4.0,
        dropout: float = 0.1,
        type_vocab_size: int = 2,
        pooling: Pooling = "mean",
        vocab_size: int | None = None,
        max_seq_len: int | None = None,
        pad_token_id: int | None = None,
        num_classes: int | None = None,
        task: ClassificationTask | None = None,
        label_smoothing: float = 0.0,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(vocab_size, max_seq_len, pad_token_id, num_classes, task, label_smoothing, **optim)
        self.save_hyperparameters()
        encoder = BertEncoder(
            self.vocab_size, self.max_seq_len, dim, depth, num_heads, mlp_ratio, dropout, type_vocab_size
        )
        self.net = BertClassifierNet(encoder, self.pad_token_id, self.num_outputs, dropout, pooling)


_REF = "Devlin et al. 2019, arXiv:1810.04805; sizes: Turc et al. 2019, arXiv:1908.08962"
_TINY = {"dim": 128, "depth": 2, "num_heads": 2}
_LM = {"vocab_size": 1000, "max_seq_len": 128, "pad_token_id": 0}
_CLS = dict(**_LM, num_classes=2, task="binary")
_SMALL = {"vocab_size": 50, "max_seq_len": 16}
register_model("bert_tiny_mlm", BertPretraining, dict(**_TINY, **_LM), modality="text", task="masked_lm",
               reference=_REF, config="configs/text/bert_pretrain.yaml", test_overrides=_SMALL)
register_model("bert_tiny_classifier", BertClassifier, dict(**_TINY, **_CLS), modality="text",
               task="classification", reference=_REF, config="configs/text/bert_finetune.yaml", test_overrides=_SMALL)
