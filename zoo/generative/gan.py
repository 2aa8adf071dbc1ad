"""The GAN of Goodfellow et al. 2014 ("Generative Adversarial Nets", arXiv:1406.2661) with MLP players.

Generator: ``z ~ N(0, I)`` (100-d) → Linear → BatchNorm → ReLU blocks → Linear → tanh image. The
BatchNorm keeps every hidden layer's activations standardised, which stabilises the generator
(Ioffe & Szegedy 2015, arXiv:1502.03167; Radford et al. 2016, arXiv:1511.06434). Discriminator:
flattened image → Linear → LeakyReLU(0.2) blocks (leaky, so the generator gets gradients through
units D has switched off) → one logit. Training, losses and the optimisers are the :class:`GAN`
task base's: manual optimisation, D step then G step with the non-saturating loss, Adam 2e-4 with
betas (0.5, 0.999).
"""

from __future__ import annotations

from typing import Unpack

from torch import Tensor, nn

from zoo.registry import register_model
from zoo.tasks.generative import GAN
from zoo.tasks.optim import OptimArgs

__all__ = ["MLPGAN", "GANNet", "MLPDiscriminator", "MLPGenerator"]


class MLPGenerator(nn.Module):
    """``(B, latent_dim) → (B, C, S, S)`` in [-1, 1]."""

    def __init__(self, latent_dim: int, channels: int, size: int, hidden_sizes: tuple[int, ...]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = latent_dim
        for hidden in hidden_sizes:
            # no bias before BatchNorm: its shift makes the bias redundant
            layers += [nn.Linear(width, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True)]
            width = hidden
        layers += [nn.Linear(width, channels * size * size), nn.Tanh(), nn.Unflatten(1, (channels, size, size))]
        self.layers = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.layers(z)


class MLPDiscriminator(nn.Module):
    """``(B, C, S, S)`` in [-1, 1] → ``(B,)`` logits that the images are real."""

    def __init__(self, channels: int, size: int, hidden_sizes: tuple[int, ...], dropout: float = 0.0) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = channels * size * size
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2, inplace=True)]
            layers += [nn.Dropout(dropout)] if dropout else []
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x).squeeze(-1)


class GANNet(nn.Module):
    """The two players; ``net.generator(z)`` alone is the exportable image generator."""

    def __init__(self, generator: nn.Module, discriminator: nn.Module) -> None:
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator

    def forward(self, z: Tensor) -> Tensor:
        return self.generator(z)


class MLPGAN(GAN):
    """GAN with multilayer-perceptron generator and discriminator.

    Args:
        generator_sizes: hidden widths of the generator, latent side first.
        discriminator_sizes: hidden widths of the discriminator, image side first.
        dropout: dropout after each discriminator hidden layer (Goodfellow et al. used it in D).
        latent_dim: size of the noise vector.
    """

    def __init__(
        self,
        generator_sizes: tuple[int, ...] = (256, 512, 1024),
        discriminator_sizes: tuple[int, ...] = (512, 256),
        dropout: float = 0.0,
        latent_dim: int = 100,
        fd_size: int = 8,
        d_lr_scale: float = 1.0,
        joint_batch: bool = True,
        in_channels: int | None = None,
        image_size: int | None = None,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(latent_dim, fd_size, d_lr_scale, joint_batch, in_channels, image_size, **optim)
        self.save_hyperparameters()
        c, s = self.in_channels, self.image_size
        self.net = GANNet(
            MLPGenerator(latent_dim, c, s, generator_sizes), MLPDiscriminator(c, s, discriminator_sizes, dropout)
        )


_REF = "Goodfellow et al. 2014, arXiv:1406.2661"
register_model("gan_mlp", MLPGAN, {"in_channels": 1, "image_size": 28}, modality="image", task="gan",
               reference=_REF, config="configs/generative/gan_mlp_digits.yaml", test_overrides={"image_size": 8})
