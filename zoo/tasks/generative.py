"""Generative task bases: the image-generator API every generative model shares, and the GAN.

:class:`ImageGenerator` holds what GANs and autoencoders have in common: the image geometry, the
pixel space and the user-facing API (``sample``, ``interpolate``, ``predict_step``). Batches arrive
as the datamodule makes them (normalised with the data card's mean/std); the models undo that
normalisation (``to_pixels``) and work in [0, 1] pixels, so every image they return (samples,
reconstructions, interpolations) is ``(B, C, H, W)`` in [0, 1] whatever ``normalize`` the data used.

:class:`GAN` is the adversarial game of Goodfellow et al. 2014 ("Generative Adversarial Nets",
arXiv:1406.2661) with the non-saturating generator loss of the same paper, trained with manual
optimisation: per batch one discriminator step on real and generated images, then one generator
step through the updated discriminator. Both players output logits and both losses are
``binary_cross_entropy_with_logits`` (numerically stable, unlike Sigmoid + BCELoss). Defaults
follow DCGAN (Radford, Metz & Chintala 2016, arXiv:1511.06434): Adam, lr 2e-4, betas (0.5, 0.999).
"""

from __future__ import annotations

from typing import Any, Unpack

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.optim.lr_scheduler import ReduceLROnPlateau
from torchmetrics.image.fid import FrechetInceptionDistance

from preprocessing.errors import UserError
from zoo.tasks.base import ZooModule, batch_inputs, inference, require
from zoo.tasks.optim import OptimArgs, build_optimizer, build_scheduler

__all__ = ["GAN", "GAN_OPTIM", "ImageGenerator", "PixelFeatures", "latent_path"]

# Radford et al. 2016: Adam with lr 2e-4 and beta1 0.5 (0.9 made training oscillate), no decay, no schedule.
GAN_OPTIM: OptimArgs = {"optimizer": "adam", "lr": 2e-4, "betas": (0.5, 0.999), "weight_decay": 0.0,
                        "scheduler": "constant"}


def latent_path(za: Tensor, zb: Tensor, steps: int, spherical: bool = False) -> Tensor:
    """``steps`` points from ``za`` to ``zb`` (both ``(B, L)``), ends included: ``(B, steps, L)``.

    ``spherical`` interpolates along the great circle (slerp; White 2016, arXiv:1609.04468), which
    keeps Gaussian latents at a typical norm instead of cutting through the low-density centre.
    """
    if steps < 2:
        raise ValueError(f"an interpolation needs steps >= 2, got {steps}")
    t = torch.linspace(0, 1, steps, device=za.device, dtype=za.dtype).view(1, steps, 1)
    a, b = za.unsqueeze(1), zb.unsqueeze(1)  # (B, 1, L)
    if not spherical:
        return (1 - t) * a + t * b
    cos = F.cosine_similarity(za, zb, dim=-1).clamp(-1 + 1e-7, 1 - 1e-7).view(-1, 1, 1)
    omega = torch.acos(cos)
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


class PixelFeatures(nn.Module):
    """``(B, C, H, W)`` pixels → ``(B, C·size²)``: images average-pooled to ``size × size`` and flattened.

    The feature space of the classifier-free Fréchet distance the GANs use as their validation
    metric (``val/fd``): a Fréchet distance between Gaussians fitted to low-resolution pixels.
    """

    def __init__(self, channels: int, size: int) -> None:
        super().__init__()
        self.size = size
        self.num_features = channels * size * size  # read by torchmetrics' FID

    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(x.float(), self.size).flatten(1)


class ImageGenerator(ZooModule):
    """Shared base of the generative image models.

    Args:
        latent_dim: size of the latent code ``z``.
        in_channels: image channels; from the datamodule by default.
        image_size: image height = width; from the datamodule by default (which resizes to it
            when the model sets it).

    Subclasses implement ``decode(z)`` (latent codes → [0, 1] pixels) and may change
    ``latent_from_noise`` (standard-normal noise → latent codes; the identity for a N(0, I) prior).
    """

    def __init__(
        self,
        latent_dim: int,
        in_channels: int | None = None,
        image_size: int | None = None,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(**optim)
        if latent_dim < 1:
            raise UserError(f"latent_dim must be positive, got {latent_dim}")
        self.latent_dim = latent_dim
        self.in_channels = require("in_channels", in_channels)
        self.image_size = require("image_size", image_size)
        # the datamodule's normalisation, to get back to [0, 1] pixels; set from the data card
        self.register_buffer("pixel_mean", torch.zeros(self.in_channels))
        self.register_buffer("pixel_std", torch.ones(self.in_channels))

    # -- data ----------------------------------------------------------------------------------
    def on_data_card(self, card: dict[str, Any]) -> None:
        modality = card.get("modality")
        if modality not in (None, "image"):
            raise UserError(f"{type(self).__name__} models images, but the datamodule provides {modality} data")
        channels, size = card.get("in_channels", self.in_channels), card.get("image_size", self.image_size)
        if (channels, size) != (self.in_channels, self.image_size):
            raise UserError(
                f"{type(self).__name__} was built for {self.in_channels}×{self.image_size}×{self.image_size} "
                f"images, but the data provides {channels}×{size}×{size}"
            )
        if "mean" in card and "std" in card:
            self.pixel_mean.copy_(torch.as_tensor(card["mean"], dtype=torch.float32))
            self.pixel_std.copy_(torch.as_tensor(card["std"], dtype=torch.float32))

    def check_images(self, x: Tensor) -> Tensor:
        """``x`` if it is a ``(B, C, H, W)`` batch of this model's geometry, else a clear error."""
        expected = (self.in_channels, self.image_size, self.image_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"{type(self).__name__} expects images of shape (B, {', '.join(map(str, expected))}), "
                f"got {tuple(x.shape)}"
            )
        return x

    def to_pixels(self, x: Tensor) -> Tensor:
        """Data-space images (as the datamodule yields them) → [0, 1] pixels."""
        return x * self.pixel_std.view(1, -1, 1, 1) + self.pixel_mean.view(1, -1, 1, 1)

    def example_input(self, batch_size: int = 2) -> Tensor:
        return torch.rand(batch_size, self.in_channels, self.image_size, self.image_size)

    def example_batch(self, batch_size: int = 2) -> tuple[Tensor, Tensor]:
        # the image datamodule's batch: (images, class ids); generative models ignore the labels
        return self.example_input(batch_size), torch.randint(0, 10, (batch_size,))

    # -- the generative API --------------------------------------------------------------------
    def noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``(n, latent_dim)`` standard-normal noise on the model's device (drawn on the CPU when seeded)."""
        if generator is not None:
            return torch.randn(n, self.latent_dim, generator=generator).to(self.device)
        return torch.randn(n, self.latent_dim, device=self.device)

    def latent_from_noise(self, eps: Tensor) -> Tensor:
        """Standard-normal noise → latent codes of the model's prior (identity for N(0, I))."""
        return eps

    def decode(self, z: Tensor) -> Tensor:
        """Latent codes ``(B, latent_dim)`` → images ``(B, C, H, W)`` in [0, 1]."""
        raise NotImplementedError

    @inference
    def sample(self, n: int, noise: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """``n`` new images ``(n, C, H, W)`` in [0, 1].

        Args:
            n: number of samples.
            noise: ``(n, latent_dim)`` standard-normal noise to use (fixed noise gives comparable grids).
            generator: seeds the noise when ``noise`` is not given.
        """
        eps = self.noise(n, generator) if noise is None else noise.to(self.device)
        if eps.shape != (n, self.latent_dim):
            raise ValueError(f"noise must have shape ({n}, {self.latent_dim}), got {tuple(eps.shape)}")
        return self.decode(self.latent_from_noise(eps))


class GAN(ImageGenerator):
    """Task base of generative adversarial networks: a generator ``G`` and a discriminator ``D``.

    Subclasses set ``self.net`` to a module with ``.generator`` (``(B, latent_dim)`` → ``(B, C, H, W)``
    in [-1, 1], tanh) and ``.discriminator`` (``(B, C, H, W)`` in [-1, 1] → ``(B,)`` logits).

    ``forward(x)`` is the discriminator's logit that data-space images ``x`` are real; ``decode``,
    ``sample`` and ``interpolate`` run the generator. ``configure_optimizers`` returns two
    optimizers, ``[G, D]``, built from the same optimisation arguments (GAN defaults:
    ``GAN_OPTIM``); ``d_lr_scale`` multiplies D's learning rate (two time-scale updates, Heusel et al.
    2017, arXiv:1706.08500).

    Validation and test log both losses and ``fd``: the Fréchet distance between real images and
    as many samples, in the space of images average-pooled to ``fd_size`` pixels (torchmetrics'
    FID with :class:`PixelFeatures` as the feature extractor). It needs no pretrained network, so
    it works offline; it is the checkpoint monitor (lower is better). Classifier- and
    Inception-based scores are in ``zoo.generative.quality``.

    The discriminator judges real and generated images in one batch (``joint_batch``): with
    BatchNorm in D, an all-generated batch is normalised by its own statistics, which hides from D
    (and so from G's gradient) anything the generated images share, such as being too bright or
    too grey; a DCGAN at 64 px on upsampled digits then never leaves its initial grey images. With
    ``joint_batch=False`` D sees separate all-real and all-generated batches (pytorch/examples).

    Args:
        latent_dim: size of the noise vector ``z``.
        fd_size: side of the pooled images the validation Fréchet distance compares.
        d_lr_scale: discriminator learning rate = ``lr × d_lr_scale``.
        joint_batch: the discriminator sees real and generated images in one batch.
    """

    monitor = "val/fd"
    monitor_mode = "min"
    optimizer_steps_per_batch = 2  # D, then G

    def __init__(
        self,
        latent_dim: int = 100,
        fd_size: int = 8,
        d_lr_scale: float = 1.0,
        joint_batch: bool = True,
        in_channels: int | None = None,
        image_size: int | None = None,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(latent_dim, in_channels, image_size, **{**GAN_OPTIM, **optim})  # type: ignore[typeddict-item]
        self.automatic_optimization = False  # two players, two optimizers: the step below drives them
        self.d_lr_scale, self.joint_batch = d_lr_scale, joint_batch
        features = PixelFeatures(self.in_channels, min(fd_size, self.image_size))
        self.val_fd = FrechetInceptionDistance(feature=features, normalize=True)
        self.test_fd = FrechetInceptionDistance(feature=PixelFeatures(self.in_channels, features.size), normalize=True)
        self._eval_rng: torch.Generator | None = None

    def compiled_modules(self) -> list[nn.Module]:
        return [self.net.generator, self.net.discriminator]  # the steps call the players, not the net

    # -- the two players -----------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tensor:
        """``(B,)`` discriminator logits that the data-space images ``x`` are real."""
        return self.net.discriminator(2 * self.to_pixels(self.check_images(x)) - 1)

    def decode(self, z: Tensor) -> Tensor:
        return (self.net.generator(z) + 1) / 2  # tanh range [-1, 1] → [0, 1] pixels

    def discriminate(self, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
        """D's logits ``((B,), (B',))`` for real and generated images in [-1, 1], in one batch or two."""
        if not self.joint_batch:
            return self.net.discriminator(real), self.net.discriminator(fake)
        logits = self.net.discriminator(torch.cat([real, fake]))  # (B + B',)
        return logits[: len(real)], logits[len(real) :]

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """``-log D(x) - log(1 - D(G(z)))``, batch means, on logits."""
        real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
        fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
        return real + fake

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        """The non-saturating loss ``-log D(G(z))``: strong gradients while D still rejects the samples."""
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))

    # -- optimisation --------------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        total = self.total_steps()
        configs = []
        for module, scale in ((self.net.generator, 1.0), (self.net.discriminator, self.d_lr_scale)):
            optimizer = build_optimizer([{"params": list(module.parameters()), "lr_scale": scale}], self.optim)
            scheduler = build_scheduler(optimizer, self.optim, total, self.monitor, self.monitor_mode)
            config: dict[str, Any] = {"optimizer": optimizer}
            if scheduler is not None:  # stepped in _step_schedulers: Lightning leaves that to manual optimisation
                config["lr_scheduler"] = {k: v for k, v in scheduler.items() if k != "monitor"}
            configs.append(config)
        return configs

    def _step_schedulers(self, interval: str) -> None:
        for config in self.trainer.lr_scheduler_configs:
            if config.interval != interval:
                continue
            if isinstance(config.scheduler, ReduceLROnPlateau):
                value = self.trainer.callback_metrics.get(self.monitor)
                if value is not None:
                    config.scheduler.step(value)
            else:
                config.scheduler.step()

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        real = 2 * self.to_pixels(self.check_images(batch_inputs(batch))) - 1  # (B, C, H, W) in [-1, 1]
        fake = self.net.generator(self.noise(real.shape[0]))
        if self._trainer is None:
            # no Trainer, no optimizers to step: both players' losses with their graphs, so one
            # backward gives every parameter its gradient (used to inspect a model outside fit)
            return self.discriminator_loss(*self.discriminate(real, fake.detach())) + self.generator_loss(
                self.discriminate(real, fake)[1]
            )
        opt_g, opt_d = self.optimizers()
        # 1. discriminator: real → 1, fake → 0; G is frozen (detached samples, requires_grad off)
        with self.toggled_optimizer(opt_d):
            real_logits, fake_logits = self.discriminate(real, fake.detach())
            d_loss = self.discriminator_loss(real_logits, fake_logits)
            opt_d.zero_grad(set_to_none=True)
            self.manual_backward(d_loss)
            opt_d.step()
        # 2. generator: through the updated D, the same samples should now be called real
        with self.toggled_optimizer(opt_g):
            g_logits = self.discriminate(real, fake)[1] if self.joint_batch else self.net.discriminator(fake)
            g_loss = self.generator_loss(g_logits)
            opt_g.zero_grad(set_to_none=True)
            self.manual_backward(g_loss)
            opt_g.step()
        self._step_schedulers("step")
        bs = real.shape[0]
        self.log_train("d_loss", d_loss, bs, prog_bar=True)
        self.log_train("g_loss", g_loss, bs, prog_bar=True)
        self.log_train("d_real", real_logits.detach().sigmoid().mean(), bs, prog_bar=True)  # D(x): 1 = sure it is real
        self.log_train("d_fake", fake_logits.detach().sigmoid().mean(), bs, prog_bar=True)  # D(G(z)) before D's step
        return (d_loss + g_loss).detach()

    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()
        self._step_schedulers("epoch")

    # -- evaluation ----------------------------------------------------------------------------
    def _step(self, batch: Any, stage: str) -> Tensor:
        x = self.check_images(batch_inputs(batch))
        pixels = self.to_pixels(x)
        # the same noise every evaluation (and the global RNG untouched): epochs compare like for like
        fake = self.net.generator(self.noise(x.shape[0], self._eval_rng))  # (B, C, H, W) in [-1, 1]
        real_logits, fake_logits = self.discriminate(2 * pixels - 1, fake)
        d_loss = self.discriminator_loss(real_logits, fake_logits)
        g_loss = self.generator_loss(fake_logits)
        fd = getattr(self, f"{stage}_fd")
        fd.update(pixels.clamp(0, 1), real=True)
        fd.update((fake + 1) / 2, real=False)
        bs = x.shape[0]
        self.log_mean(stage, "d_loss", d_loss, bs)
        self.log_mean(stage, "g_loss", g_loss, bs)
        self.log_epoch_metric(f"{stage}/fd", fd, prog_bar=True)
        return d_loss + g_loss

    def on_validation_epoch_start(self) -> None:
        self._eval_rng = torch.Generator().manual_seed(0)

    def on_test_epoch_start(self) -> None:
        self._eval_rng = torch.Generator().manual_seed(0)

    # -- the generative API --------------------------------------------------------------------
    @inference
    def interpolate(
        self, a: Tensor | None = None, b: Tensor | None = None, steps: int = 8, generator: torch.Generator | None = None
    ) -> Tensor:
        """Images along the spherical path between latent codes: ``(B, steps, C, H, W)`` in [0, 1].

        Args:
            a, b: latent codes ``(latent_dim,)`` or ``(B, latent_dim)``; ``None`` draws random ones.
            steps: images per path, ends included.
            generator: seeds the codes that are drawn.
        """
        za = self.noise(1, generator)[0] if a is None else a.to(self.device)
        zb = self.noise(1, generator)[0] if b is None else b.to(self.device)
        za, zb = za.reshape(-1, self.latent_dim), zb.reshape(-1, self.latent_dim)
        path = latent_path(za, zb, steps, spherical=True)  # (B, steps, L)
        return self.decode(path.flatten(0, 1)).unflatten(0, path.shape[:2])

    def predict_step(self, batch: Any, batch_idx: int = 0) -> dict[str, Tensor]:
        """``{"pred": (B, C, H, W) samples in [0, 1]}``: latent codes ``(B, latent_dim)`` are decoded;
        for any other batch (e.g. images from a predict folder) ``B`` new samples are drawn."""
        x = batch_inputs(batch)
        if x.ndim == 2 and x.shape[1] == self.latent_dim:
            return {"pred": self.decode(x.to(self.device))}
        return {"pred": self.decode(self.noise(len(x)))}

