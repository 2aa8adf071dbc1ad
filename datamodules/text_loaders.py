"""Batches of token ids: padded sequences cut per batch, length buckets, random windows, masking.

- :class:`TokenLoader`: in-memory padded ``(N, T)`` token tensors (the fast path: index slicing,
  no collate); every batch is cut to its longest sequence, and training batches can be drawn
  from length buckets so that a batch holds sequences of similar lengths (little padding).
- :class:`WindowLoader`: a language-model token stream, ``windows`` random windows per epoch.
- :func:`mask_tokens`: BERT's corruption (Devlin et al. 2019, arXiv:1810.04805): of the non-special
  tokens, ``mask_prob`` are chosen; of those 80% become ``[MASK]``, 10% a random token, 10% stay.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor

from datamodules.base import EpochLoader, TensorLoader
from preprocessing.text import trim

__all__ = ["IGNORE_INDEX", "TokenLoader", "WindowLoader", "mask_tokens"]

IGNORE_INDEX = -100  # labels the loss skips (PyTorch's cross_entropy default)
_POOL = 50  # length bucketing sorts pools of 50 batches by length


class TokenLoader(TensorLoader):
    """A :class:`~datamodules.base.TensorLoader` over right-padded token tensors.

    Args:
        tensors: equal-length tensors; those at ``token_tensors`` are ``(N, T)`` padded ids.
        pad_token_id: the padding id (trailing all-padding columns are cut from each batch).
        token_tensors: which tensors hold token ids (the others, labels, are sliced as they are).
        bucket: when shuffling, sort pools of 50 batches by length before batching, then shuffle
            the batches: sequences of similar length share a batch.
    """

    def __init__(
        self,
        tensors: Sequence[Tensor],
        batch_size: int,
        pad_token_id: int,
        token_tensors: Sequence[int] = (0,),
        bucket: bool = False,
        shuffle: bool = False,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        drop_singleton: bool = False,
    ) -> None:
        super().__init__(tensors, batch_size, shuffle, seed, rank, world_size, drop_singleton)
        self.pad_token_id = pad_token_id
        self.token_tensors = tuple(token_tensors)
        self.bucket = bucket
        self.lengths = (self.tensors[self.token_tensors[0]] != pad_token_id).sum(1)

    def batches(self, epoch: int) -> list[Tensor]:
        """The batches of sample indices of ``epoch``."""
        order = self._indices(epoch)
        size = self.batch_size
        if self.bucket and self.shuffle:
            batches: list[Tensor] = []
            for pool in order.split(size * _POOL):
                pool = pool[self.lengths[pool].argsort(descending=True, stable=True)]
                batches += list(pool.split(size))
            g = torch.Generator().manual_seed(self.seed + 7919 * (epoch + 1))
            batches = [batches[i] for i in torch.randperm(len(batches), generator=g).tolist()]
        else:
            batches = list(order.split(size))
        if len(batches) > len(self):  # the singleton batch __len__ leaves out
            batches = [b for b in batches if len(b) > 1] if self.drop_singleton else batches
        return batches[: len(self)]

    def epoch_batches(self, epoch: int) -> Iterator[tuple[Tensor, ...]]:
        for idx in self.batches(epoch):
            yield tuple(
                trim(t[idx], self.pad_token_id) if i in self.token_tensors else t[idx]
                for i, t in enumerate(self.tensors)
            )


class WindowLoader(EpochLoader):
    """``windows`` random windows of ``length`` (+1 for next-token targets) tokens per epoch from a stream.

    Causal (``shift=True``) batches are ``(x, y)`` with ``y`` = ``x`` shifted one token; masked
    ones are ``(x,)`` (the corruption is applied on the device). Under DDP each rank draws its own
    windows (seeded by the epoch and the rank), ``ceil(windows / world_size)`` of them.
    """

    def __init__(
        self,
        ids: Tensor,
        length: int,
        batch_size: int,
        windows: int,
        shift: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        span = length + int(shift)
        if len(ids) < span:
            raise ValueError(f"the training text has {len(ids)} tokens, fewer than a window of {span}")
        self.ids, self.length, self.batch_size, self.shift = ids, length, batch_size, shift
        self.windows = math.ceil(windows / world_size)
        self.seed, self.rank, self.world_size = seed, rank, world_size

    def __len__(self) -> int:
        return math.ceil(self.windows / self.batch_size)

    def epoch_batches(self, epoch: int) -> Iterator[tuple[Tensor, ...]]:
        g = torch.Generator().manual_seed(self.seed + 1_000_003 * epoch + self.rank)
        span = self.length + int(self.shift)
        starts = torch.randint(0, len(self.ids) - span + 1, (self.windows,), generator=g)
        offsets = torch.arange(span)
        for chunk in starts.split(self.batch_size):
            window = self.ids[chunk[:, None] + offsets]  # (B, span)
            yield (window[:, :-1], window[:, 1:]) if self.shift else (window,)


def blocks(ids: Tensor, length: int, shift: bool = True) -> tuple[Tensor, ...]:
    """Contiguous, non-overlapping ``(N, length)`` blocks of a stream (and their next-token targets)."""
    n = (len(ids) - int(shift)) // length
    if n < 1:
        raise ValueError(f"a text of {len(ids)} tokens holds no block of {length} (+{int(shift)}) tokens")
    x = ids[: n * length].view(n, length)
    return (x, ids[1 : n * length + 1].view(n, length)) if shift else (x,)


def mask_tokens(
    ids: Tensor,
    mask_token_id: int,
    vocab_size: int,
    special_ids: Sequence[int],
    mask_prob: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """BERT's masked-LM corruption of ``ids (B, T)`` → ``(inputs, labels)``, ``labels`` -100 where not chosen.

    Special tokens (padding, ``[CLS]`` ...) are never chosen and never drawn as random tokens. At
    least one token of the batch is chosen, so the loss is always defined.
    """
    device = ids.device
    specials = torch.as_tensor(list(special_ids), device=device, dtype=ids.dtype)
    candidates = ~torch.isin(ids, specials)
    chosen = (torch.rand(ids.shape, device=device, generator=generator) < mask_prob) & candidates
    if not chosen.any() and candidates.any():
        chosen.view(-1)[candidates.view(-1).nonzero()[0]] = True
    labels = torch.where(chosen, ids, torch.full_like(ids, IGNORE_INDEX))
    roll = torch.rand(ids.shape, device=device, generator=generator)
    inputs = torch.where(chosen & (roll < 0.8), torch.full_like(ids, mask_token_id), ids)
    allowed = torch.ones(vocab_size, dtype=torch.bool, device=device)
    allowed[specials[specials < vocab_size]] = False
    pool = allowed.nonzero().squeeze(1)  # ids a random replacement may take
    draw = pool[torch.randint(0, len(pool), ids.shape, device=device, generator=generator)]
    inputs = torch.where(chosen & (roll >= 0.8) & (roll < 0.9), draw, inputs)
    return inputs, labels
