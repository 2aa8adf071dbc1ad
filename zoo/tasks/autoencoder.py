"""Autoencoder task bases: the deterministic autoencoder and the variational autoencoder (VAE).

Both encode an image ``x`` to a latent code and decode the code to per-pixel *logits*; the
likelihood turns logits into a reconstruction loss, summed over pixels (nats per image):

- ``bernoulli`` (default): ``binary_cross_entropy_with_logits(logits, x)`` for [0, 1] data, the
  decoder's mean being ``sigmoid(logits)``;
- ``gaussian``: a fixed-``sigma`` Gaussian around ``sigmoid(logits)``, with its normalising constant
  (so log-likelihoods are densities).

:class:`Autoencoder` minimises the reconstruction loss (Hinton & Salakhutdinov 2006, Science
313:504). To *sample* from it, a full-covariance Gaussian is fitted to the training codes of each
epoch (ex-post density estimation, Ghosh et al. 2020, arXiv:1903.12436) and kept as buffers.

:class:`VAE` (Kingma & Welling 2014, arXiv:1312.6114) encodes ``q(z|x) = N(mu, diag(sigma²))``,
samples ``z = mu + sigma·eps`` (the reparameterisation trick: the noise is an input, so gradients
reach ``mu`` and ``sigma``), and minimises ``reconstruction + beta·KL(q(z|x) ‖ N(0, I))``
(``beta`` ≠ 1: Higgins et al. 2017, β-VAE). It logs the evidence lower bound
``ELBO = -(reconstruction + KL)`` and estimates ``log p(x)`` by importance weighting with ``k``
posterior samples (Burda, Grosse & Salakhutdinov 2016, arXiv:1509.00519), a bound that tightens
towards ``log p(x)`` as ``k`` grows.
"""

from __future__ import annotations

import math
from typing import Any, Literal, Unpack

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MeanSquaredError

from preprocessing.errors import UserError
from zoo.tasks.base import batch_inputs, inference
from zoo.tasks.generative import ImageGenerator, latent_path
from zoo.tasks.optim import OptimArgs

__all__ = ["VAE", "Autoencoder", "AutoencoderBase", "Likelihood"]

Likelihood = Literal["bernoulli", "gaussian"]


class AutoencoderBase(ImageGenerator):
    """What the autoencoder and the VAE share: encoding, decoding, the likelihood, the API.

    Subclasses set ``self.net`` to a module with ``.encoder`` (data-space images → ``(B,
    encoder_outputs)``) and ``.decoder`` (``(B, latent_dim)`` → ``(B, C, H, W)`` logits).

    Args:
        latent_dim: size of the latent code.
        likelihood: ``bernoulli`` (for [0, 1] pixels) or ``gaussian`` (fixed ``sigma``).
        sigma: standard deviation of the Gaussian likelihood, in [0, 1] pixel units.
    """

    def __init__(
        self,
        latent_dim: int,
        likelihood: Likelihood = "bernoulli",
        sigma: float = 0.1,
        in_channels: int | None = None,
        image_size: int | None = None,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(latent_dim, in_channels, image_size, **optim)
        if likelihood not in Likelihood.__args__:
            raise UserError(f"likelihood={likelihood!r} is not one of {Likelihood.__args__}")
        if sigma <= 0:
            raise UserError(f"sigma must be positive, got {sigma}")
        self.likelihood, self.sigma = likelihood, sigma
        self.train_mse = MeanSquaredError()
        self.val_mse = MeanSquaredError()
        self.test_mse = MeanSquaredError()

    @property
    def encoder_outputs(self) -> int:
        """Width of the encoder's output (the VAE needs a mean and a log-variance per dimension)."""
        return self.latent_dim

    # -- pieces ----------------------------------------------------------------------------------
    def reconstruction_nll(self, logits: Tensor, target: Tensor) -> Tensor:
        """``-log p(x | z)`` per image, ``(B,)`` nats, from decoder logits and [0, 1] targets."""
        if self.likelihood == "bernoulli":
            nll = F.binary_cross_entropy_with_logits(logits.float(), target, reduction="none")
        else:
            mean = torch.sigmoid(logits.float())
            nll = 0.5 * ((target - mean) / self.sigma) ** 2 + math.log(self.sigma * math.sqrt(2 * math.pi))
        return nll.flatten(1).sum(1)

    def compiled_modules(self) -> list[nn.Module]:
        return [self.net.encoder, self.net.decoder]  # the steps call the halves (the VAE samples between them)

    def decode(self, z: Tensor) -> Tensor:
        return torch.sigmoid(self.net.decoder(z))  # the likelihood's mean, in [0, 1]

    def _code(self, x: Tensor) -> Tensor:
        """The deterministic code of data-space images (the VAE: the posterior mean)."""
        return self.net.encoder(x)

    def forward(self, x: Tensor) -> Tensor:
        """Reconstructions ``(B, C, H, W)`` in [0, 1] of data-space images ``x``."""
        return self.decode(self._code(self.check_images(x)))

    def _log_reconstruction(self, stage: str, logits: Tensor, target: Tensor) -> None:
        mse = getattr(self, f"{stage}_mse")
        mse.update(torch.sigmoid(logits.detach().float()).flatten(), target.flatten())
        self.log(f"{stage}/mse", mse, on_epoch=True, batch_size=target.shape[0])

    # -- the generative API ----------------------------------------------------------------------
    @inference
    def encode(self, x: Tensor) -> Tensor:
        """Latent codes ``(B, latent_dim)`` of data-space images (for the VAE: the posterior means)."""
        return self._code(self.check_images(x.to(self.device)))

    @inference
    def reconstruct(self, x: Tensor) -> Tensor:
        """Reconstructions ``(B, C, H, W)`` in [0, 1] of data-space images ``x``."""
        return self(x.to(self.device))

    @inference
    def interpolate(self, a: Tensor, b: Tensor, steps: int = 8) -> Tensor:
        """Decoded images along the straight latent path between the codes of images ``a`` and ``b``.

        Args:
            a, b: data-space images ``(C, H, W)`` or ``(B, C, H, W)``.
            steps: images per path, ends included.

        Returns ``(B, steps, C, H, W)`` in [0, 1] (``(steps, C, H, W)`` for single images).
        """
        single = a.ndim == 3
        a, b = (t.unsqueeze(0) if t.ndim == 3 else t for t in (a, b))
        za, zb = self.encode(a), self.encode(b)
        path = latent_path(za, zb, steps)  # (B, steps, L)
        images = self.decode(path.flatten(0, 1)).unflatten(0, path.shape[:2])
        return images[0] if single else images

    def predict_step(self, batch: Any, batch_idx: int = 0) -> dict[str, Tensor]:
        """``{"pred": (B, C, H, W) reconstructions in [0, 1], "latent": (B, latent_dim) codes}``."""
        x = self.check_images(batch_inputs(batch))
        code = self._code(x)
        return {"pred": self.decode(code), "latent": code}


class Autoencoder(AutoencoderBase):
    """Deterministic autoencoder: ``loss = -log p(x | decoder(encoder(x)))``.

    ``sample`` decodes draws from a Gaussian fitted to the codes of the last training epoch
    (buffers ``latent_loc`` and ``latent_scale_tril``, saved with the weights).
    """

    def __init__(
        self,
        latent_dim: int,
        likelihood: Likelihood = "bernoulli",
        sigma: float = 0.1,
        in_channels: int | None = None,
        image_size: int | None = None,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(latent_dim, likelihood, sigma, in_channels, image_size, **optim)
        self.register_buffer("latent_loc", torch.zeros(latent_dim))
        self.register_buffer("latent_scale_tril", torch.eye(latent_dim))
        # running sums of one epoch's codes (float64: sums of squares of thousands of codes)
        self._code_sums: tuple[Tensor, Tensor, int] | None = None

    def latent_from_noise(self, eps: Tensor) -> Tensor:
        return self.latent_loc + eps @ self.latent_scale_tril.T

    def _step(self, batch: Any, stage: str) -> Tensor:
        x = self.check_images(batch_inputs(batch))
        target = self.to_pixels(x)
        z = self.net.encoder(x)
        logits = self.net.decoder(z)
        loss = self.reconstruction_nll(logits, target).mean()
        if stage == "train":
            self._accumulate(z.detach())
        self.log_mean(stage, "loss", loss, len(x), prog_bar=True)
        self._log_reconstruction(stage, logits, target)
        return loss

    def _accumulate(self, z: Tensor) -> None:
        z = z.double()
        s, ss, n = self._code_sums or (torch.zeros_like(z[0]), torch.zeros(z.shape[1], z.shape[1]).to(z), 0)
        self._code_sums = (s + z.sum(0), ss + z.T @ z, n + len(z))

    def on_train_epoch_start(self) -> None:
        self._code_sums = None

    def on_train_epoch_end(self) -> None:
        if self._code_sums is None:
            return
        s, ss, n = self._code_sums
        if self._trainer is not None and self.trainer.world_size > 1:  # every rank saw a shard of the data
            s, ss = self.trainer.strategy.reduce(s, reduce_op="sum"), self.trainer.strategy.reduce(ss, reduce_op="sum")
            n = int(self.trainer.strategy.reduce(torch.tensor(float(n), device=s.device), reduce_op="sum"))
        if n < 2:
            return
        loc = s / n
        cov = (ss - n * torch.outer(loc, loc)) / (n - 1)
        cov = 0.5 * (cov + cov.T) + 1e-6 * torch.eye(len(loc), dtype=cov.dtype, device=cov.device)
        self.latent_loc.copy_(loc.float())
        self.latent_scale_tril.copy_(torch.linalg.cholesky(cov).float())
        self._code_sums = None


class VAE(AutoencoderBase):
    """Variational autoencoder: ``loss = reconstruction + beta·KL``; the prior is N(0, I).

    Logs ``{stage}/loss`` (the objective), ``rec`` and ``kl`` (nats per image), ``elbo`` and ``mse``.
    The checkpoint monitor is ``val/elbo`` (maximised): the negative ELBO whatever ``beta`` is.

    Args:
        beta: weight of the KL term (1: the ELBO; > 1: β-VAE, more disentangled, blurrier).
    """

    monitor = "val/elbo"
    monitor_mode = "max"

    def __init__(
        self,
        latent_dim: int,
        beta: float = 1.0,
        likelihood: Likelihood = "bernoulli",
        sigma: float = 0.1,
        in_channels: int | None = None,
        image_size: int | None = None,
        **optim: Unpack[OptimArgs],
    ) -> None:
        super().__init__(latent_dim, likelihood, sigma, in_channels, image_size, **optim)
        if beta < 0:
            raise UserError(f"beta must be >= 0, got {beta}")
        self.beta = beta

    @property
    def encoder_outputs(self) -> int:
        return 2 * self.latent_dim

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(mu, logvar)`` of ``q(z | x)``, each ``(B, latent_dim)``, for data-space images."""
        mu, logvar = self.net.encoder(x).chunk(2, dim=-1)
        return mu, logvar.clamp(-30.0, 20.0)  # exp() stays finite in float32

    @staticmethod
    def reparameterize(mu: Tensor, logvar: Tensor) -> Tensor:
        """``z = mu + sigma · eps``, ``eps ~ N(0, I)``: a sample whose gradient reaches mu and logvar."""
        return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)

    @staticmethod
    def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
        """``KL(N(mu, exp(logvar)) ‖ N(0, I))`` per row, ``(B,)``: ½ Σ (mu² + σ² − 1 − log σ²)."""
        return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(-1)

    def _code(self, x: Tensor) -> Tensor:
        return self.posterior(x)[0]

    def _step(self, batch: Any, stage: str) -> Tensor:
        x = self.check_images(batch_inputs(batch))
        target = self.to_pixels(x)
        mu, logvar = self.posterior(x)
        logits = self.net.decoder(self.reparameterize(mu, logvar))
        rec = self.reconstruction_nll(logits, target)  # (B,)
        kl = self.kl_divergence(mu.float(), logvar.float())  # (B,)
        loss = (rec + self.beta * kl).mean()
        bs = len(x)
        self.log_mean(stage, "loss", loss, bs, prog_bar=True)
        for name, value in (("rec", rec.mean()), ("kl", kl.mean()), ("elbo", -(rec + kl).mean())):
            self.log_mean(stage, name, value.detach(), bs)
        self._log_reconstruction(stage, logits, target)
        return loss

    @inference
    def elbo(self, x: Tensor) -> Tensor:
        """A one-sample estimate of the ELBO per image, ``(B,)`` nats."""
        x = self.check_images(x.to(self.device))
        mu, logvar = self.posterior(x)
        rec = self.reconstruction_nll(self.net.decoder(self.reparameterize(mu, logvar)), self.to_pixels(x))
        return -(rec + self.kl_divergence(mu, logvar))

    @inference
    def log_likelihood(self, x: Tensor, k: int = 100, chunk: int = 64) -> Tensor:
        """Importance-weighted estimate of ``log p(x)`` per image, ``(B,)`` nats.

        ``log (1/k) Σ_i p(x | z_i) p(z_i) / q(z_i | x)`` with ``z_i ~ q(z | x)``: a lower bound in
        expectation that equals the ELBO for ``k = 1`` and tends to ``log p(x)`` as ``k`` grows.

        Args:
            x: data-space images ``(B, C, H, W)``.
            k: importance samples per image (100 or more for a tight estimate).
            chunk: samples decoded at once per image (bounds memory at ``B·chunk`` decodes).
        """
        x = self.check_images(x.to(self.device))
        target = self.to_pixels(x)
        mu, logvar = self.posterior(x)  # (B, L)
        std = torch.exp(0.5 * logvar)
        log_weights = []
        for start in range(0, k, chunk):
            m = min(chunk, k - start)
            eps = torch.randn(len(x), m, self.latent_dim, device=x.device)
            z = mu.unsqueeze(1) + std.unsqueeze(1) * eps  # (B, m, L)
            logits = self.net.decoder(z.flatten(0, 1))  # (B·m, C, H, W)
            log_px_z = -self.reconstruction_nll(logits, target.repeat_interleave(m, dim=0)).view(len(x), m)
            log_pz = -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(-1)
            log_qz = -0.5 * (eps.pow(2) + logvar.unsqueeze(1) + math.log(2 * math.pi)).sum(-1)
            log_weights.append(log_px_z + log_pz - log_qz)
        return torch.logsumexp(torch.cat(log_weights, dim=1), dim=1) - math.log(k)
