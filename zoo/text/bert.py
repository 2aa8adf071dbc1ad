"""BERT-style encoder: masked-LM pretraining, then classification fine-tuning.

Devlin, Chang, Lee & Toutanova 2019, "BERT: Pre-training of Deep Bidirectional Transformers for
Language Understanding", arXiv:1810.04805. The input is the sum of token, learned position and
segment (token type) embeddings, normalised; a stack of bidirectional transformer blocks follows.
Pretraining predicts the 15% chosen tokens (80% replaced by ``[MASK]``, 10% by a random token, 10%
kept: the datamodule applies it) through a transform (dense → GELU → LayerNorm) and a decoder
tied to the token embedding. Fine-tuning keeps the encoder and adds a pooler (dense → tanh) and a
linear classifier.

Differences from the paper, on purpose: by default pre-norm blocks with a final LayerNorm (Xiong et
al. 2020, arXiv:2002.04745; stabler at small scale and high learning rates) and no next-sentence
objective (Liu et al. 2019, RoBERTa, arXiv:1907.11692, found it unnecessary). ``norm_first=False``
builds the published post-norm BERT; with it, :func:`hf_bert_args` and :func:`hf_bert_state` load
Hugging Face checkpoints (bert-base-uncased, the MiniLM family) exactly, and :func:`from_hf_folder`
builds the zoo model from a Hugging Face model folder. Sizes follow Turc et al. 2019
("Well-Read Students Learn Better", arXiv:1908.08962): the preset is BERT-Tiny (2 layers, 128 wide);
``dim=256, depth=4, num_heads=4`` is their BERT-Mini.

Both LightningModules hold the encoder at ``net.encoder``, so ``--init_from <pretraining export>``
on a :class:`BertClassifier` takes over every encoder tensor and starts the pooler and head fresh.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any, Unpack

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from preprocessing.errors import UserError
from zoo.layers.positional import LearnedPositionalEmbedding
from zoo.layers.transformer import PostNormBlock, TransformerBlock, init_normal_
from zoo.registry import register_model
from zoo.tasks import MaskedLM, OptimArgs, TextClassifier
from zoo.tasks.classification import ClassificationTask
from zoo.text.hf_weights import read_hf_folder, report_converted
from zoo.text.transformer import Pooling, check_length, pool

__all__ = [
    "BertClassifier",
    "BertClassifierNet",
    "BertEncoder",
    "BertMLMNet",
    "BertPretraining",
    "from_hf_folder",
    "hf_bert_args",
    "hf_bert_state",
]


class BertEncoder(nn.Module):
    """``ids (B, T)``, optional ``token_type_ids (B, T)`` and ``key_mask (B, T)`` → ``(B, T, dim)``.

    Args:
        vocab_size, max_seq_len, dim, depth, num_heads, mlp_ratio, dropout, type_vocab_size: as
            :class:`BertPretraining`'s.
        norm_first: pre-norm blocks + a final LayerNorm (``True``), or BERT's post-norm blocks.
        norm_eps: epsilon of every LayerNorm (BERT's 1e-12).
    """

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
        norm_first: bool = True,
        norm_eps: float = 1e-12,
    ) -> None:
        super().__init__()
        self.max_seq_len, self.type_vocab_size = max_seq_len, type_vocab_size
        self.tokens = nn.Embedding(vocab_size, dim)
        self.positions = LearnedPositionalEmbedding(dim, max_seq_len)
        self.segments = nn.Embedding(type_vocab_size, dim)
        self.embed_norm = nn.LayerNorm(dim, eps=norm_eps)
        self.drop = nn.Dropout(dropout)
        block = TransformerBlock if norm_first else PostNormBlock
        self.blocks = nn.ModuleList(
            block(dim, num_heads, mlp_ratio, dropout, attn_dropout=dropout, norm_eps=norm_eps) for _ in range(depth)
        )
        # pre-norm leaves the residual stream unnormalised: one LayerNorm closes it; post-norm blocks end normalised
        self.norm = nn.LayerNorm(dim, eps=norm_eps) if norm_first else nn.Identity()
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
        eps = encoder.embed_norm.eps  # BERT's transform LayerNorm shares the encoder's epsilon
        # GELU: the exact (erf) form, BERT's hidden_act="gelu"
        self.transform = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.LayerNorm(dim, eps=eps))
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
        norm_first: pre-norm blocks (the zoo's default); ``False`` is the published post-norm BERT.
        norm_eps: LayerNorm epsilon.
    """

    def __init__(
        self,
        dim: int = 128,
        depth: int = 2,
        num_heads: int = 2,
        mlp_ratio: float = 4.0,
        dropout: float = 0.1,
        type_vocab_size: int = 2,
        norm_first: bool = True,
        norm_eps: float = 1e-12,
        vocab_size: int | None = None,
        max_seq_len: int | None = None,
        pad_token_id: int | None = None,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(vocab_size, max_seq_len, pad_token_id, **optim)
        self.save_hyperparameters()
        encoder = BertEncoder(
            self.vocab_size, self.max_seq_len, dim, depth, num_heads, mlp_ratio, dropout, type_vocab_size,
            norm_first, norm_eps,
        )
        self.net = BertMLMNet(encoder, pad_token_id)

    def forward(self, ids: Tensor, token_type_ids: Tensor | None = None) -> Tensor:
        return self.net(ids, token_type_ids)


class BertClassifier(TextClassifier):
    """BERT text classifier; start it from published weights with ``pretrained``, or from a
    :class:`BertPretraining` run with ``--init_from``.

    Args:
        dim, depth, num_heads, mlp_ratio, type_vocab_size, norm_first, norm_eps: the encoder (as the
            pretrained model's; see :class:`BertPretraining`).
        dropout: dropout in the encoder and before the head.
        pooling: ``mean`` over real tokens, or the ``first`` token (``[CLS]``, when the tokenizer adds it).
        pretrained: a Hugging Face BERT checkpoint to fine-tune (see :func:`~zoo.text.hf_weights.hf_checkpoint`:
            a model folder, ``hf://org/repo``, or ``bert-base-uncased``). On the command line the
            architecture and the tokenizer come from it (:meth:`pretrained_settings`); the encoder and
            pooler load when ``fit`` starts (not when it resumes), the head starts fresh, and both are
            reported. A ``max_seq_len`` below the checkpoint's keeps its first positions.
    """

    def __init__(
        self,
        dim: int = 128,
        depth: int = 2,
        num_heads: int = 2,
        mlp_ratio: float = 4.0,
        dropout: float = 0.1,
        type_vocab_size: int = 2,
        norm_first: bool = True,
        norm_eps: float = 1e-12,
        pooling: Pooling = "mean",
        vocab_size: int | None = None,
        max_seq_len: int | None = None,
        pad_token_id: int | None = None,
        num_classes: int | None = None,
        task: ClassificationTask | None = None,
        label_smoothing: float = 0.0,
        pretrained: str | None = None,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(vocab_size, max_seq_len, pad_token_id, num_classes, task, label_smoothing, **optim)
        self.save_hyperparameters()
        encoder = BertEncoder(
            self.vocab_size, self.max_seq_len, dim, depth, num_heads, mlp_ratio, dropout, type_vocab_size,
            norm_first, norm_eps,
        )
        self.net = BertClassifierNet(encoder, self.pad_token_id, self.num_outputs, dropout, pooling)
        self.pretrained = pretrained
        self._pretrained_loaded = pretrained is None  # nothing to load

    @classmethod
    def pretrained_settings(
        cls, pretrained: str, model_args: dict[str, Any], data_args: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any], str]:
        """The architecture of the checkpoint's ``config.json`` (a recipe's small encoder would not fit), and
        its tokenizer for the data (the ids the embeddings were trained on), before either is built."""
        import json

        from zoo.text.hf_weights import hf_checkpoint

        folder, tokenizer = hf_checkpoint(pretrained)
        args = hf_bert_args(json.loads((folder / "config.json").read_text()))
        positions = args["max_seq_len"]
        length = data_args.get("max_seq_len") or positions
        if length > positions:
            raise UserError(f"data.max_seq_len={length}: the checkpoint {pretrained} has {positions} positions")
        model = {**args, "max_seq_len": length, "pooling": "first"}  # [CLS] through the pooler, as BERT does
        report = (
            f"pretrained {pretrained}: a {args['depth']}-layer, {args['dim']}-wide BERT (its config.json), reading "
            f"its own tokenizer ({tokenizer}), sequences up to {length} tokens"
        )
        lr = model_args.get("lr")
        if lr is not None and lr > 1e-4:  # a from-scratch recipe's rate would wash the pretraining out
            report += f"; note lr={lr} is a from-scratch rate: BERT is fine-tuned at 2e-5 to 5e-5 (--model.lr 3e-5)"
        return model, {"backbone": tokenizer, "tokenizer": None}, report

    def on_fit_start(self) -> None:
        super().on_fit_start()
        # here, not in setup: Lightning sets ckpt_path when it restores the checkpoint, after setup
        if not self._pretrained_loaded and self.trainer.ckpt_path is None:
            self.load_pretrained_weights()

    def load_pretrained_weights(self) -> None:
        """Load the ``pretrained`` checkpoint's encoder and pooler into ``net`` now; the head stays as built."""
        from lightning.pytorch.utilities import rank_zero_info

        from zoo.text.hf_weights import hf_checkpoint

        folder, _ = hf_checkpoint(str(self.pretrained))
        config, source = read_hf_folder(folder)
        state = {k: v for k, v in hf_bert_state(source, config).items() if k.startswith(("encoder.", "pooler."))}
        table, own = state["encoder.positions.table"], self.net.encoder.positions.table
        if table.shape[0] > own.shape[0]:  # the first max_seq_len positions: the only ones the data reaches
            state["encoder.positions.table"] = table[: own.shape[0]]
        shapes = self.net.state_dict()
        wrong = [f"{k} {tuple(v.shape)} (here {tuple(shapes[k].shape)})" for k, v in state.items()
                 if k in shapes and shapes[k].shape != v.shape]  # fmt: skip
        if wrong:
            raise UserError(f"pretrained={self.pretrained} does not fit this BertClassifier: {', '.join(wrong)}")
        missing = self.net.load_state_dict(state, strict=False).missing_keys
        report_converted(len(state), config, folder, self)
        rank_zero_info(f"new head for {self.num_classes} classes (initialised: {', '.join(missing)})")
        self._pretrained_loaded = True

# Hugging Face → zoo: (HF name after the optional "bert." prefix, zoo name under ``net``)
_HF_RULES: list[tuple[str, str]] = [
    (r"embeddings\.word_embeddings\.weight", r"encoder.tokens.weight"),
    (r"embeddings\.position_embeddings\.weight", r"encoder.positions.table"),
    (r"embeddings\.token_type_embeddings\.weight", r"encoder.segments.weight"),
    (r"embeddings\.LayerNorm\.(weight|bias)", r"encoder.embed_norm.\1"),
    (r"encoder\.layer\.(\d+)\.attention\.self\.query\.(weight|bias)", r"encoder.blocks.\1.attn.q.\2"),
    (r"encoder\.layer\.(\d+)\.attention\.self\.key\.(weight|bias)", r"encoder.blocks.\1.attn.k.\2"),
    (r"encoder\.layer\.(\d+)\.attention\.self\.value\.(weight|bias)", r"encoder.blocks.\1.attn.v.\2"),
    (r"encoder\.layer\.(\d+)\.attention\.output\.dense\.(weight|bias)", r"encoder.blocks.\1.attn.out.\2"),
    (r"encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.(weight|bias)", r"encoder.blocks.\1.norm1.\2"),
    (r"encoder\.layer\.(\d+)\.intermediate\.dense\.(weight|bias)", r"encoder.blocks.\1.mlp.0.\2"),
    (r"encoder\.layer\.(\d+)\.output\.dense\.(weight|bias)", r"encoder.blocks.\1.mlp.3.\2"),
    (r"encoder\.layer\.(\d+)\.output\.LayerNorm\.(weight|bias)", r"encoder.blocks.\1.norm2.\2"),
    (r"pooler\.dense\.(weight|bias)", r"pooler.0.\1"),
    (r"cls\.predictions\.transform\.dense\.(weight|bias)", r"transform.0.\1"),
    (r"cls\.predictions\.transform\.LayerNorm\.(weight|bias)", r"transform.2.\1"),
    (r"cls\.predictions\.bias", r"decoder_bias"),
    (r"classifier\.(weight|bias)", r"head.1.\1"),
]
# known and not needed: a buffer (0..max_len-1), the tied decoder's copies, the next-sentence head
_HF_DROPPED = re.compile(
    r"embeddings\.position_ids|cls\.predictions\.decoder\.(weight|bias)|cls\.seq_relationship\.(weight|bias)"
)
_HF_LAYER = (
    "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
    "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm",
)
_HF_CONFIG_REQUIRED = (
    "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
    "max_position_embeddings",
)


def _hf_name(key: str) -> str:
    key = key.removeprefix("bert.")
    # the original TF-converted checkpoints (bert-base-uncased's pytorch_model.bin) say gamma/beta
    return re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight", re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", key))


def hf_bert_args(config: dict[str, Any]) -> dict[str, Any]:
    """The :class:`BertPretraining` / :class:`BertClassifier` arguments of a Hugging Face BERT ``config.json``.

    Args:
        config: the parsed ``config.json`` (or ``BertConfig.to_dict()``).

    Returns:
        ``dim, depth, num_heads, mlp_ratio, dropout, type_vocab_size, norm_first=False, norm_eps,
        vocab_size, max_seq_len, pad_token_id``. ``dropout`` is ``hidden_dropout_prob``: the zoo
        has one rate for embeddings, attention and residuals (BERT's configs set both to 0.1).
    """
    missing = [k for k in _HF_CONFIG_REQUIRED if k not in config]
    if missing:
        raise UserError(f"the BERT config lacks {missing}: is it a Hugging Face BERT config.json?")
    if config.get("model_type", "bert") != "bert":
        raise UserError(f"model_type={config['model_type']!r} is not 'bert'; this converter reads BERT configs only")
    unsupported = {
        k: config[k]
        for k, ok in (("hidden_act", "gelu"), ("position_embedding_type", "absolute"))
        if config.get(k, ok) != ok
    }
    if unsupported:
        raise UserError(f"the zoo's BERT has GELU (erf) and absolute positions; this config sets {unsupported}")
    dim, hidden = config["hidden_size"], config["intermediate_size"]
    mlp_ratio = hidden / dim
    if int(dim * mlp_ratio) != hidden:  # the MLP width is int(dim * mlp_ratio): it must come back exactly
        raise UserError(f"intermediate_size={hidden} is not representable as int(hidden_size={dim} * ratio)")
    return {
        "dim": dim,
        "depth": config["num_hidden_layers"],
        "num_heads": config["num_attention_heads"],
        "mlp_ratio": mlp_ratio,
        "dropout": config.get("hidden_dropout_prob", 0.1),
        "type_vocab_size": config.get("type_vocab_size", 2),
        "norm_first": False,
        "norm_eps": config.get("layer_norm_eps", 1e-12),
        "vocab_size": config["vocab_size"],
        "max_seq_len": config["max_position_embeddings"],
        "pad_token_id": config.get("pad_token_id", 0),
    }


def hf_bert_state(state: dict[str, Tensor], config: dict[str, Any]) -> dict[str, Tensor]:
    """A transformers ``BertModel`` / ``BertForMaskedLM`` / ``BertForSequenceClassification`` state dict,
    with or without the ``bert.`` prefix, renamed onto the zoo's ``net`` keys.

    The encoder lands at ``encoder.*`` (both nets), the pooler at ``pooler.0.*`` and the classifier
    at ``head.1.*`` (:class:`BertClassifierNet`), the masked-LM transform and bias at
    ``transform.*`` and ``decoder_bias`` (:class:`BertMLMNet`, whose decoder is the token embedding:
    a checkpoint with an untied decoder is refused). ``position_ids`` and the next-sentence head
    are dropped.

    Args:
        state: the Hugging Face state dict (tensors are shared, not copied).
        config: its ``config.json`` (for the layer count: every encoder tensor must be there).
    """
    names = {_hf_name(k): k for k in state}
    converted: dict[str, Tensor] = {}
    unknown: list[str] = []
    for name, key in names.items():
        if _HF_DROPPED.fullmatch(name):
            continue
        for pattern, target in _HF_RULES:
            match = re.fullmatch(pattern, name)
            if match:
                converted[match.expand(target)] = state[key]
                break
        else:
            unknown.append(key)
    depth = config.get("num_hidden_layers")
    if not isinstance(depth, int):
        raise UserError("the BERT config lacks num_hidden_layers")
    # layers past the config's depth would be renamed, then silently ignored by the zoo model
    layers = {name: m for name in names if (m := re.match(r"encoder\.layer\.(\d+)\.", name))}
    unknown += [names[name] for name, m in layers.items() if int(m.group(1)) >= depth]
    if unknown:
        raise UserError(f"unknown tensors for a {depth}-layer BERT (not converted): {sorted(set(unknown))}")
    expected = [f"embeddings.{e}.weight" for e in ("word_embeddings", "position_embeddings", "token_type_embeddings")]
    expected += [f"embeddings.LayerNorm.{p}" for p in ("weight", "bias")]
    expected += [f"encoder.layer.{i}.{m}.{p}" for i in range(depth) for m in _HF_LAYER for p in ("weight", "bias")]
    missing = [k for k in expected if k not in names]
    if missing:
        raise UserError(f"the BERT state dict lacks {len(missing)} encoder tensor(s): {missing}")
    decoder, tokens = state.get(names.get("cls.predictions.decoder.weight", "")), converted["encoder.tokens.weight"]
    # tied in HF's state dict too (one tensor, two names); meta tensors (shapes only) hold no values to compare
    untied = decoder is not None and decoder is not tokens and decoder.device.type != "meta"
    if untied and not torch.equal(decoder, tokens):
        raise UserError("cls.predictions.decoder.weight differs from the word embeddings: the zoo's decoder is tied")
    return converted


def from_hf_folder(path: str | Path, **overrides: Any) -> BertPretraining | BertClassifier:
    """The zoo BERT of a Hugging Face model folder (``config.json`` + weights), converted exactly.

    A checkpoint with the masked-LM head becomes a :class:`BertPretraining`; any other (``BertModel``,
    ``BertForSequenceClassification``) a :class:`BertClassifier` pooling the first (``[CLS]``)
    token, as BERT's pooler does. Tensors the checkpoint lacks (a plain encoder's classification
    head) keep their fresh initialisation and are reported in a warning.

    Args:
        path: the folder.
        overrides: arguments replacing those read from the config (``num_classes=3``, ``dropout=0.0`` ...).
    """
    config, source = read_hf_folder(path)
    state = hf_bert_state(source, config)
    args = hf_bert_args(config)
    model: BertPretraining | BertClassifier
    if "decoder_bias" in state:
        model = BertPretraining(**{**args, **overrides})
        state = {k: v for k, v in state.items() if not k.startswith(("pooler.", "head."))}
    else:
        labels = state["head.1.weight"].shape[0] if "head.1.weight" in state else 2
        task = "binary" if labels == 1 else "multiclass"
        # HF's num_labels=1 head is a single logit: the zoo's binary task (1 output)
        cls_args = {"pooling": "first", "num_classes": max(labels, 2), "task": task}
        model = BertClassifier(**{**args, **cls_args, **overrides})
    report = model.net.load_state_dict(state, strict=False)
    if report.unexpected_keys:
        raise UserError(f"{path}: tensors without a place in {type(model).__name__}: {report.unexpected_keys}")
    if report.missing_keys:
        warnings.warn(f"{path}: kept the fresh initialisation of {report.missing_keys}", stacklevel=2)
    report_converted(len(state), config, path, model)
    return model


def hf_reference_mlm() -> nn.Module:
    """transformers' ``BertForMaskedLM`` of bert-base-uncased's size (the card's parameter-count reference)."""
    from transformers import BertConfig, BertForMaskedLM

    return BertForMaskedLM(BertConfig())


def hf_reference_classifier() -> nn.Module:
    """transformers' two-label ``BertForSequenceClassification`` of bert-base-uncased's size."""
    from transformers import BertConfig, BertForSequenceClassification

    return BertForSequenceClassification(BertConfig(num_labels=2))


_REF = "Devlin et al. 2019, arXiv:1810.04805; sizes: Turc et al. 2019, arXiv:1908.08962"
_TINY = {"dim": 128, "depth": 2, "num_heads": 2}
_LM = {"vocab_size": 1000, "max_seq_len": 128, "pad_token_id": 0}
_CLS = dict(**_LM, num_classes=2, task="binary")
_SMALL = {"vocab_size": 50, "max_seq_len": 16}
register_model("bert_tiny_mlm", BertPretraining, dict(**_TINY, **_LM), modality="text", task="masked_lm",
               reference=_REF, config="configs/text/bert_pretrain.yaml", test_overrides=_SMALL)
register_model("bert_tiny_classifier", BertClassifier, dict(**_TINY, **_CLS), modality="text",
               task="classification", reference=_REF, config="configs/text/bert_finetune.yaml", test_overrides=_SMALL)
# bert-base-uncased (transformers' BertConfig() defaults): post-norm, as published
_BASE = dict(dim=768, depth=12, num_heads=12, norm_first=False, vocab_size=30522, max_seq_len=512, pad_token_id=0)
_REF_BASE = "Devlin et al. 2019, arXiv:1810.04805 (bert-base-uncased)"
register_model("bert_base_mlm", BertPretraining, _BASE, modality="text", task="masked_lm", reference=_REF_BASE,
               config="configs/text/bert_pretrain.yaml", reference_model="zoo.text.bert.hf_reference_mlm",
               test_overrides=_SMALL)
register_model("bert_base_classifier", BertClassifier, dict(**_BASE, pooling="first", num_classes=2, task="multiclass"),
               modality="text", task="classification", reference=_REF_BASE,
               config="configs/text/bert_finetune.yaml", reference_model="zoo.text.bert.hf_reference_classifier",
               test_overrides=_SMALL)
