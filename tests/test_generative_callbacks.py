"""Sample grids beside the checkpoints and in the loggers; predicted images as PNG files; the CLI path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger
from PIL import Image

from callbacks import ImagePredictionWriter, SampleGrids
from tests.conftest import trainer_kwargs
from tests.examples import ExampleDataModule
from zoo.cli import cli_main
from zoo.generative.autoencoder import MLPVAE
from zoo.generative.gan import MLPGAN
from zoo.loggers import WandbLogger

CONFIGS = Path(__file__).resolve().parent.parent / "configs" / "generative"


def _fit(model: Any, tmp_path: Path, logger: Any, grids: SampleGrids, epochs: int = 2) -> Trainer:
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "run" / "checkpoints", save_last=True)
    kwargs = trainer_kwargs(tmp_path, max_epochs=epochs, logger=logger, enable_checkpointing=True,
                            callbacks=[checkpoint, grids])
    trainer = Trainer(**kwargs)
    trainer.fit(model, datamodule=ExampleDataModule(model, batch_size=8, batches=2))
    return trainer


def test_vae_grids_beside_the_checkpoints_and_in_tensorboard(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    model = MLPVAE(hidden_sizes=(16,), latent_dim=4, in_channels=1, image_size=8)
    grids = SampleGrids(every_n_epochs=1, num_samples=9, num_reconstructions=8, interpolation_pairs=2,
                        interpolation_steps=5)
    logger = TensorBoardLogger(tmp_path / "tb", name="", version="")
    _fit(model, tmp_path, logger, grids)
    folder = tmp_path / "run" / "samples"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"{kind}_epoch{e:04d}.png" for kind in ("interpolations", "reconstructions", "samples")
                     for e in (0, 1)]
    with Image.open(folder / "samples_epoch0001.png") as image:
        assert image.size == (3 * 9 + 1, 3 * 9 + 1)  # 3×3 images of 8 px, 1 px padding
    with Image.open(folder / "interpolations_epoch0001.png") as image:
        assert image.size == (5 * 9 + 1, 2 * 9 + 1)  # 2 paths of 5 steps
    with Image.open(folder / "reconstructions_epoch0001.png") as image:
        assert image.size == (8 * 9 + 1, 2 * 9 + 1)  # 8 originals over their 8 reconstructions
    events = EventAccumulator(str(tmp_path / "tb")).Reload()
    tags = events.Tags()["images"]
    assert set(tags) == {"samples/samples", "samples/reconstructions", "samples/interpolations"}
    assert len(events.Images("samples/samples")) == 2  # one per epoch


def test_gan_grids_use_fixed_noise_and_reach_wandb(tmp_path: Path, monkeypatch: Any) -> None:
    model = MLPGAN(generator_sizes=(16,), discriminator_sizes=(16,), latent_dim=6, in_channels=1, image_size=8)
    grids = SampleGrids(every_n_epochs=2, num_samples=4, interpolation_pairs=2, interpolation_steps=3)
    logger = WandbLogger(save_dir=str(tmp_path / "wb"), mode="offline")
    logged: list[tuple[str, int]] = []
    original = logger.log_image

    def record(key: str, images: list[Any], step: int | None = None, **kwargs: Any) -> None:
        logged.append((key, len(images)))
        original(key=key, images=images, step=step, **kwargs)

    monkeypatch.setattr(logger, "log_image", record)
    _fit(model, tmp_path, logger, grids, epochs=3)
    logger.experiment.finish()
    # epoch 1 (every 2nd) and epoch 2 (the last); a GAN has samples and interpolations, no reconstructions
    written = sorted(p.name for p in (tmp_path / "run" / "samples").iterdir())
    assert written == [f"{kind}_epoch000{e}.png" for kind in ("interpolations", "samples") for e in (1, 2)]
    assert sorted(logged) == [("samples/interpolations", 1)] * 2 + [("samples/samples", 1)] * 2
    assert len(list((tmp_path / "wb" / "wandb").glob("offline-run-*/files/media/images/samples/*.png"))) == 4
    fixed = model.sample(4, noise=grids._noise[:4])
    assert torch.equal(fixed, model.sample(4, noise=grids._noise[:4]))


def test_sample_grids_refuse_a_classifier(tmp_path: Path) -> None:
    import zoo

    model = zoo.create_model("lenet5")
    trainer = Trainer(**trainer_kwargs(tmp_path, fast_dev_run=1, callbacks=[SampleGrids()]))
    with pytest.raises(TypeError, match="SampleGrids needs a generative model"):
        trainer.fit(model, datamodule=ExampleDataModule(model))


def test_fit_then_predict_images_through_the_cli(tmp_path: Path) -> None:
    """The user's path: a recipe fits, then ``predict`` reconstructs a folder of new images as PNG files."""
    run = tmp_path / "run"
    quick = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1",
             f"--trainer.default_root_dir={run}", "--trainer.enable_progress_bar=false", "--data.batch_size=16",
             "--model.hidden_sizes=[32]", "--test_after_fit=false"]
    cli = cli_main(["fit", "--config", str(CONFIGS / "vae_mlp_digits.yaml"), *quick])
    last = Path(cli.trainer.checkpoint_callback.last_model_path)
    assert (last.parent.parent / "samples" / "samples_epoch0000.png").is_file()  # the last epoch's grids
    new = tmp_path / "new"
    new.mkdir()
    for name in ("three", "seven"):
        Image.fromarray((torch.rand(8, 8) * 255).byte().numpy(), mode="L").save(new / f"{name}.png")
    cli_main(["predict", "--config", str(CONFIGS / "vae_mlp_digits.yaml"), f"--ckpt_path={last}",
              f"--data.predict_path={new}", f"--trainer.default_root_dir={tmp_path / 'pred'}",
              "--trainer.enable_progress_bar=false", "--trainer.logger=false"])
    out = tmp_path / "pred" / "predictions"  # the recipe's ImagePredictionWriter, in the log directory
    assert sorted(p.name for p in out.iterdir()) == ["grid.png", "seven.png", "three.png"]
    with Image.open(out / "three.png") as image:
        assert image.size == (8, 8)


def test_prediction_writer_rejects_non_images(tmp_path: Path) -> None:
    from types import SimpleNamespace

    writer = ImagePredictionWriter(output=str(tmp_path))
    trainer = SimpleNamespace(is_global_zero=True, world_size=1, datamodule=None, log_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r"writes \(B, C, H, W\) images; predict returned \(3, 5\)"):
        writer.write_on_epoch_end(trainer, None, [{"pred": torch.rand(3, 5)}], [])
