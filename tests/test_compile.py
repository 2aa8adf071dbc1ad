"""``--model.compile``: ``torch.compile`` of the network in place, for a CNN, an RNN and a transformer.

Compiled, a network gives the eager outputs (float32 on the CPU: within 1e-5 absolute, 1e-4 relative; the
compiler fuses and reorders float operations), a short fit runs, and the checkpoint's keys are the eager
model's (no ``_orig_mod.`` prefix). Inductor compiles C++ on the CPU, which takes tens of seconds per model.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer

import zoo
from preprocessing.errors import UserError
from tests.conftest import trainer_kwargs
from tests.examples import ExampleDataModule


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lenet5", "gru", "gpt_nano"])  # a CNN, an RNN, a transformer
def test_compiled_net_gives_the_eager_outputs_and_fits(name: str, tmp_path: Path) -> None:
    eager = zoo.create_model(name)
    model = zoo.create_model(name, compile=True)
    model.load_state_dict(eager.state_dict())
    model.configure_model()
    assert model.net._compiled_call_impl is not None  # nn.Module.compile: compiled in place, not wrapped
    eager.eval(), model.eval()
    x = eager.example_input(4)
    with torch.no_grad():
        torch.testing.assert_close(model(x), eager(x), rtol=1e-4, atol=1e-5)

    trainer = Trainer(**trainer_kwargs(tmp_path, max_steps=3, limit_val_batches=1, enable_checkpointing=True))
    trainer.fit(model, datamodule=ExampleDataModule(model, batch_size=4, batches=3))
    assert trainer.global_step == 3 and torch.isfinite(trainer.callback_metrics["train/loss_epoch"])
    (ckpt,) = tmp_path.rglob("*.ckpt")
    state = torch.load(ckpt, weights_only=True)["state_dict"]
    assert list(state) == list(eager.state_dict())  # the same names as without compile
    fresh = zoo.create_model(name)
    fresh.load_state_dict(state)  # and an eager model loads it as it is


def test_compile_is_applied_once_and_keeps_the_parameter_names() -> None:
    model = zoo.create_model("mlp", num_features=4, compile=True, compile_mode="max-autotune")
    names = list(model.state_dict())
    model.configure_model()
    first = model.net._compiled_call_impl
    model.configure_model()  # the Trainer calls it before every fit, validate, test, predict
    assert model.net._compiled_call_impl is first
    assert list(model.state_dict()) == names and not any("_orig_mod" in n for n in names)
    assert model.hparams["compile"] is True and model.hparams["compile_mode"] == "max-autotune"
    assert zoo.create_model("mlp", num_features=4).net._compiled_call_impl is None  # off by default


def test_an_unknown_compile_mode_names_the_choices() -> None:
    with pytest.raises(UserError, match=r"compile_mode='fastest' is not one of \('default', 'reduce-overhead'"):
        zoo.create_model("mlp", num_features=4, compile_mode="fastest")


def test_a_gan_compiles_both_players() -> None:
    model = zoo.create_model("gan_mlp", compile=True)
    model.configure_model()
    # its steps call the generator and the discriminator, never the net that holds them
    assert model.net.generator._compiled_call_impl is not None
    assert model.net.discriminator._compiled_call_impl is not None


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:You are trying to `self.log")  # a step without a Trainer
def test_compile_with_activation_checkpointing_gives_the_eager_gradients() -> None:
    eager = zoo.create_model("gpt_nano", dropout=0.0)  # no dropout: compiled code draws its own random numbers
    model = zoo.create_model("gpt_nano", dropout=0.0, compile=True, activation_checkpointing=True)
    model.load_state_dict(eager.state_dict())
    model.configure_model()
    batch = eager.example_batch(4)
    for m in (eager, model):
        m.train()
        m.training_step(batch, 0).backward()
    for (name, p), q in zip(eager.named_parameters(), model.parameters()):
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-4, atol=1e-6, msg=lambda m, n=name: f"{n}: {m}")
