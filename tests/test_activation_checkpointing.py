"""``--model.activation_checkpointing``: the blocks recompute their activations, and nothing else changes.

For the smallest preset of every family that has checkpointable blocks: the loss and every gradient of a
training step equal those without checkpointing (float32 on the CPU: within 1e-5 relative, 1e-6 absolute;
the recomputation runs the same kernels on the same inputs), the BatchNorm statistics are updated once,
dropout draws the same masks, and each block really ran twice (forward, then again in the backward pass).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from lightning.pytorch import Trainer

import zoo
from preprocessing.errors import UserError
from tests.conftest import trainer_kwargs
from tests.examples import ExampleDataModule
from zoo.layers.checkpointing import StagedSequential, checkpointable_blocks
from zoo.registry import get_card

pytestmark = pytest.mark.filterwarnings("ignore:You are trying to `self.log")  # steps run without a Trainer

# ResNets start each residual branch at zero (zero_init_residual), which would leave its gradients at zero
NONZERO = {"zero_init_residual": False}
FAMILIES = {
    "resnet18_small": NONZERO,
    "vgg11_small": {}, "densenet_bc40_k12": {}, "efficientnet_b0_cifar": {},
    "mobilenet_v1_050_cifar": {},
    "vit_tiny_patch4_32": {}, "gpt_nano": {}, "t5_tiny": {}, "bert_tiny_mlm": {}, "bert_tiny_classifier": {},
    "transformer_encoder_tiny": {}, "mel_transformer_tiny": {}, "transformer_forecaster": {},
}  # fmt: skip


def _model(name: str, **overrides: Any) -> Any:
    return zoo.create_model(name, **{**get_card(name).test_overrides, **FAMILIES[name], **overrides})


def _first(block: torch.nn.Module) -> torch.nn.Module:
    """The module that runs once per forward and once per recomputation: a staged sequence's first layer."""
    return block[0] if isinstance(block, StagedSequential) else block


def _step(model: Any, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    model.train()
    model.zero_grad(set_to_none=True)
    torch.manual_seed(7)  # the same dropout masks on both sides, unless the recomputation draws new ones
    loss = model.training_step(batch, 0)
    loss.backward()
    return loss.detach(), {n: p.grad for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("name", list(FAMILIES))
def test_checkpointed_blocks_give_the_same_gradients(name: str) -> None:
    plain = _model(name)
    model = _model(name, activation_checkpointing=True)
    model.load_state_dict(plain.state_dict())
    model.configure_model()
    blocks = checkpointable_blocks(model.net)
    assert blocks and all(b.checkpointing for b in blocks)
    calls: dict[str, list[int]] = {"plain": [], "checkpointed": []}  # a pre-hook: the recomputation stops early
    _first(checkpointable_blocks(plain.net)[0]).register_forward_pre_hook(lambda *_: calls["plain"].append(1))
    _first(blocks[0]).register_forward_pre_hook(lambda *_: calls["checkpointed"].append(1))

    batch = plain.example_batch(2)
    loss, grads = _step(plain, batch)
    loss_ckpt, grads_ckpt = _step(model, batch)
    assert len(calls["checkpointed"]) == 2 * len(calls["plain"]) > 0  # forward, and the recomputation in backward
    torch.testing.assert_close(loss_ckpt, loss)
    assert grads_ckpt.keys() == grads.keys() and any(g.abs().sum() > 0 for g in grads.values())
    for key, grad in grads.items():
        torch.testing.assert_close(grads_ckpt[key], grad, rtol=1e-5, atol=1e-6, msg=lambda m, k=key: f"{k}: {m}")
    # the same buffers after the step (BatchNorm running statistics and batch counts updated once), same keys
    torch.testing.assert_close(model.state_dict(), plain.state_dict(), rtol=1e-5, atol=1e-6)


def test_evaluation_and_no_grad_run_each_block_once() -> None:
    model = _model("vit_tiny_patch4_32", activation_checkpointing=True)
    model.configure_model()
    calls = []
    checkpointable_blocks(model.net)[0].register_forward_pre_hook(lambda *_: calls.append(1))
    x = model.example_input(2)
    model.eval()
    with torch.no_grad():
        model(x)
    model.train()
    with torch.no_grad():
        model(x)
    model(x).sum()  # training with gradients: checkpointed, but nothing recomputes until backward
    assert len(calls) == 3


def test_a_fit_with_checkpointing_runs(tmp_path: Path) -> None:
    model = _model("gpt_nano", activation_checkpointing=True)
    trainer = Trainer(**trainer_kwargs(tmp_path, max_steps=2, limit_val_batches=1))
    trainer.fit(model, datamodule=ExampleDataModule(model, batch_size=2))
    assert all(b.checkpointing for b in checkpointable_blocks(model.net))  # the Trainer called configure_model
    assert trainer.global_step == 2 and torch.isfinite(trainer.callback_metrics["train/loss_epoch"])


@pytest.mark.parametrize("name", ["lenet5", "gru", "mlp"])
def test_a_network_without_blocks_says_so(name: str) -> None:
    model = zoo.create_model(name, **get_card(name).test_overrides, activation_checkpointing=True)
    with pytest.raises(UserError, match=f"{type(model).__name__} has no blocks that activation checkpointing"):
        model.configure_model()
