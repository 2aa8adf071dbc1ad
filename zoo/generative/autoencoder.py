"""Autoencoders and variational autoencoders, with MLP and convolutional encoders/decoders.

Autoencoder: Hinton & Salakhutdinov 2006 ("Reducing the Dimensionality of Data with Neural
Networks", Science 313:504). VAE: Kingma & Welling 2014 ("Auto-Encoding Variational Bayes",
arXiv:1312.6114). The losses, the reparameterisation trick, the ELBO and the importance-weighted
likelihood live in the task bases (:mod:`zoo.tasks.autoencoder`); this file builds the networks.

- MLP: flattened image → ReLU hidden layers → code; code → ReLU hidden layers (mirrored) → logits.
- Convolutional: 4×4 stride-2 convolutions halve the side at each width, a linear layer maps the
  last feature map to the code; the decoder mirrors it with stride-2 transposed convolutions.
"""

from __future__ import annotations

import itertools
from typing import Unpack

from torch import Tensor, nn

from preprocessing.errors import UserError
from zoo.registry import register_model
from zoo.tasks.autoencoder import VAE, Autoencoder, Likelihood
from zoo.tasks.optim import OptimArgs

__all__ = [
    "MLPVAE",
    "AutoencoderNet",
    "ConvAutoencoder",
    "ConvDecoder",
    "ConvEncoder",
    "ConvVAE",
    "MLPAutoencoder",
    "MLPDecoder",
    "MLPEncoder",
]


def _mlp(sizes: list[int]) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for w_in, w_out in itertools.pairwise(sizes):
        layers += [nn.Linear(w_in, w_out), nn.ReLU(inplace=True)]
    return layers


class MLPEncoder(nn.Module):
    """``(B, C, S, S) → (B, out_features)``."""

    def __init__(self, channels: int, size: int, hidden_sizes: tuple[int, ...], out_features: int) -> None:
        super().__init__()
        widths = [channels * size * size, *hidden_sizes]
        self.layers = nn.Sequential(nn.Flatten(), *_mlp(widths), nn.Linear(widths[-1], out_features))

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class MLPDecoder(nn.Module):
    """``(B, latent_dim) → (B, C, S, S)`` logits; hidden widths are the encoder's, reversed."""

    def __init__(self, latent_dim: int, channels: int, size: int, hidden_sizes: tuple[int, ...]) -> None:
        super().__init__()
        widths = [latent_dim, *reversed(hidden_sizes)]
        self.layers = nn.Sequential(
            *_mlp(widths), nn.Linear(widths[-1], channels * size * size), nn.Unflatten(1, (channels, size, size))
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.layers(z)


def _final_side(size: int, widths: tuple[int, ...]) -> int:
    """Side of the last feature map after one halving per width; the image must divide evenly."""
    factor = 2 ** len(widths)
    if size % factor or size < factor:
        raise UserError(f"a convolutional autoencoder with {len(widths)} stride-2 stages needs image_size "
                         f"divisible by {factor}, got {size}")
    return size // factor


class ConvEncoder(nn.Module):
    """``(B, C, S, S) → (B, out_features)``: stride-2 convolutions, then a linear layer."""

    def __init__(self, channels: int, size: int, widths: tuple[int, ...], out_features: int) -> None:
        super().__init__()
        side = _final_side(size, widths)
        layers: list[nn.Module] = []
        for w_in, w_out in zip((channels, *widths), widths):
            layers += [nn.Conv2d(w_in, w_out, 4, 2, 1), nn.ReLU(inplace=True)]  # halves the side
        layers += [nn.Flatten(), nn.Linear(widths[-1] * side * side, out_features)]
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class ConvDecoder(nn.Module):
    """``(B, latent_dim) → (B, C, S, S)`` logits: a linear layer to the encoder's last map, then
    stride-2 transposed convolutions back up (widths reversed)."""

    def __init__(self, latent_dim: int, channels: int, size: int, widths: tuple[int, ...]) -> None:
        super().__init__()
        side = _final_side(size, widths)
        rev = widths[::-1]
        layers: list[nn.Module] = [
            nn.Linear(latent_dim, rev[0] * side * side),
            nn.ReLU(inplace=True),
            nn.Unflatten(1, (rev[0], side, side)),
        ]
        for w_in, w_out in itertools.pairwise(rev):
            layers += [nn.ConvTranspose2d(w_in, w_out, 4, 2, 1), nn.ReLU(inplace=True)]  # doubles the side
        layers.append(nn.ConvTranspose2d(rev[-1], channels, 4, 2, 1))  # logits, (B, C, S, S)
        self.layers = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.layers(z)


class AutoencoderNet(nn.Module):
    """Encoder and decoder; ``forward`` maps images to decoder logits through the first
    ``latent_dim`` encoder outputs (the code, or the VAE's posterior mean)."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, latent_dim: int) -> None:
        super().__init__()
        self.encoder, self.decoder, self.latent_dim = encoder, decoder, latent_dim

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.encoder(x)[:, : self.latent_dim])


class MLPAutoencoder(Autoencoder):
    """Autoencoder with MLP encoder and decoder.

    Args:
        hidden_sizes: encoder hidden widths, image side first (the decoder mirrors them).
        latent_dim: size of the code.
    """

    def __init__(
        self,
        hidden_sizes: tuple[int, ...] = (512, 256),
        latent_dim: int = 32,
        likelihood: Likelihood = "bernoulli",
        sigma: float = 0.1,
        in_channels: int | None = None,
        image_size: int | None = None,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(latent_dim, likelihood, sigma, in_channels, image_size, **optim)
        self.save_hyperparameters()
        c, s = self.in_channels, self.image_size
        self.net = AutoencoderNet(
            MLPEncoder(c, s, hidden_sizes, self.encoder_outputs), MLPDecoder(latent_dim, c, s, hidden_sizes), latent_dim
        )


class ConvAutoencoder(Autoencoder):
    """Convolutional autoencoder.

    Args:
        widths: channels of the encoder's stride-2 stages (the decoder mirrors them).
        latent_dim: size of the code.
    """

    def __init__(
        self,
        widths: tuple[int, ...] = (32, 64, 128),
        latent_dim: int = 32,
        likelihood: Likelihood = "bernoulli",
        sigma: float = 0.1,
        in_channels: int | None = None,
        image_size: int | None = None,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(latent_dim, likelihood, sigma, in_channels, image_size, **optim)
        self.save_hyperparameters()
        c, s = self.in_channels, self.image_size
        self.net = AutoencoderNet(
            ConvEncoder(c, s, widths, self.encoder_outputs), ConvDecoder(latent_dim, c, s, widths), latent_dim
        )


class MLPVAE(VAE):
    """VAE with MLP encoder (to mean and log-variance) and decoder.

    Args:
        hidden_sizes: encoder hidden widths, image side first (the decoder mirrors them).
        latent_dim: size of the latent variable.
        beta: weight of the KL term.
    """

    def __init__(
        self,
        hidden_sizes: tuple[int, ...] = (512, 256),
        latent_dim: int = 16,
        beta: float = 1.0,
        likelihood: Likelihood = "bernoulli",
        sigma: float = 0.1,
        in_channels: int | None = None,
        image_size: int | None = None,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(latent_dim, beta, likelihood, sigma, in_channels, image_size, **optim)
        self.save_hyperparameters()
        c, s = self.in_channels, self.image_size
        self.net = AutoencoderNet(
            MLPEncoder(c, s, hidden_sizes, self.encoder_outputs), MLPDecoder(latent_dim, c, s, hidden_sizes), latent_dim
        )


class ConvVAE(VAE):
    """Convolutional VAE.

    Args:
        widths: channels of the encoder's stride-2 stages (the decoder mirrors them).
        latent_dim: size of the latent variable.
        beta: weight of the KL term.
    """

    def __init__(
        self,
        widths: tuple[int, ...] = (32, 64, 128),
        latent_dim: int = 16,
        beta: float = 1.0,
        likelihood: Likelihood = "bernoulli",
        sigma: float = 0.1,
        in_channels: int | None = None,
        image_size: int | None = None,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(latent_dim, beta, likelihood, sigma, in_channels, image_size, **optim)
        self.save_hyperparameters()
        c, s = self.in_channels, self.image_size
        self.net = AutoencoderNet(
            ConvEncoder(c, s, widths, self.encoder_outputs), ConvDecoder(latent_dim, c, s, widths), latent_dim
        )


_AE = "Hinton & Salakhutdinov 2006, Science 313:504"
_VAE = "Kingma & Welling 2014, arXiv:1312.6114"
_MNIST = {"in_channels": 1, "image_size": 28}
_SMALL = {"image_size": 8}
_CONV = {"in_channels": 1, "image_size": 32}
register_model("ae_mlp", MLPAutoencoder, _MNIST, modality="image", task="autoencoder", reference=_AE,
               config="configs/generative/ae_mlp_digits.yaml", test_overrides=_SMALL)
register_model("ae_conv", ConvAutoencoder, _CONV, modality="image", task="autoencoder", reference=_AE,
               config="configs/generative/ae_conv_digits.yaml", test_overrides={"image_size": 16})
register_model("vae_mlp", MLPVAE, _MNIST, modality="image", task="vae", reference=_VAE,
               config="configs/generative/vae_mlp_digits.yaml", test_overrides=_SMALL)
register_model("vae_conv", ConvVAE, _CONV, modality="image", task="vae", reference=_VAE,
               config="configs/generative/vae_conv_digits.yaml", test_overrides={"image_size": 16})
