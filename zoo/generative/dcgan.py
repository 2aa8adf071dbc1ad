"""DCGAN (Radford, Metz & Chintala 2016, "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks", arXiv:1511.06434).

The paper's architecture guidelines, all here: no pooling (the generator upsamples with strided
transposed convolutions, the discriminator downsamples with strided convolutions), BatchNorm in
both players except the generator's output and the discriminator's input layer, ReLU in the
generator with a tanh output, LeakyReLU(0.2) in the discriminator, no fully connected hidden
layers, and every weight drawn from N(0, 0.02).

Generator for an ``S × S`` image: ``z`` as a ``1 × 1`` map → 4×4 transposed convolution →
``log2(S) − 3`` doublings (4×4 kernels, stride 2), widths halving from ``width·S/8`` to ``width``
→ a last doubling to the image channels. The discriminator mirrors it down to a ``4 × 4`` map and
one logit. With ``width=64``, 64 px and 3 channels the parameter counts equal those of the
pytorch/examples DCGAN (generator 3,576,704; discriminator 2,765,568).
"""

from __future__ import annotations

import itertools
import math
from typing import Unpack

from torch import Tensor, nn

from preprocessing.errors import UserError
from zoo.generative.gan import GANNet
from zoo.registry import register_model
from zoo.tasks.generative import GAN
from zoo.tasks.optim import OptimArgs

__all__ = ["DCGAN", "DCGANDiscriminator", "DCGANGenerator", "dcgan_init"]


def _doublings(size: int) -> int:
    """Number of ×2 steps between a 4×4 map and ``size`` (a power of two >= 8)."""
    if size < 8 or size & (size - 1):
        raise UserError(f"DCGAN needs image_size a power of two >= 8 (32, 64 ...), got {size}")
    return int(math.log2(size)) - 2


def dcgan_init(module: nn.Module) -> None:
    """Radford et al.: convolution weights ~ N(0, 0.02); BatchNorm scales ~ N(1, 0.02), shifts 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGANGenerator(nn.Module):
    """``(B, latent_dim) → (B, C, S, S)`` in [-1, 1] by strided transposed convolutions."""

    def __init__(self, latent_dim: int, channels: int, size: int, width: int = 64) -> None:
        super().__init__()
        n = _doublings(size)
        widths = [width * 2 ** i for i in reversed(range(n))]  # e.g. 64 px: [512, 256, 128, 64]
        # no conv bias: BatchNorm's shift follows each layer (and pytorch/examples has none on the output)
        layers: list[nn.Module] = [
            nn.Unflatten(1, (latent_dim, 1, 1)),
            nn.ConvTranspose2d(latent_dim, widths[0], 4, 1, 0, bias=False),  # (B, w0, 4, 4)
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
        ]
        for w_in, w_out in itertools.pairwise(widths):  # each doubles the side
            up = nn.ConvTranspose2d(w_in, w_out, 4, 2, 1, bias=False)
            layers += [up, nn.BatchNorm2d(w_out), nn.ReLU(inplace=True)]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]  # (B, C, S, S)
        self.layers = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: Tensor) -> Tensor:
        return self.layers(z)


class DCGANDiscriminator(nn.Module):
    """``(B, C, S, S)`` in [-1, 1] → ``(B,)`` logits, by strided convolutions."""

    def __init__(self, channels: int, size: int, width: int = 64) -> None:
        super().__init__()
        n = _doublings(size)
        widths = [width * 2 ** i for i in range(n)]  # e.g. 64 px: [64, 128, 256, 512]
        # no BatchNorm on the input layer (Radford et al.: it made samples oscillate)
        layers: list[nn.Module] = [nn.Conv2d(channels, widths[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        for w_in, w_out in itertools.pairwise(widths):  # each halves the side, down to 4×4
            down = nn.Conv2d(w_in, w_out, 4, 2, 1, bias=False)
            layers += [down, nn.BatchNorm2d(w_out), nn.LeakyReLU(0.2, inplace=True)]
        layers += [nn.Conv2d(widths[-1], 1, 4, 1, 0, bias=False), nn.Flatten(0)]  # (B, 1, 1, 1) → (B,)
        self.layers = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class DCGAN(GAN):
    """Deep convolutional GAN for square images whose side is a power of two (32, 64 ...).

    Args:
        generator_width: channels of the generator's last hidden layer (doubling towards the input).
        discriminator_width: channels of the discriminator's first layer (doubling with depth).
        latent_dim: size of the noise vector.
    """

    def __init__(
        self,
        generator_width: int = 64,
        discriminator_width: int = 64,
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
            DCGANGenerator(latent_dim, c, s, generator_width), DCGANDiscriminator(c, s, discriminator_width)
        )


_REF = "Radford, Metz & Chintala 2016, arXiv:1511.06434"
for _size in (32, 64):
    register_model(f"dcgan_{_size}", DCGAN, {"in_channels": 1, "image_size": _size}, modality="image", task="gan",
                   reference=_REF, config=f"configs/generative/dcgan{_size}_digits.yaml")
