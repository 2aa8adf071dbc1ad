"""GANs, DCGAN, autoencoders and VAEs: the textbook formulas, the training step, the API, bad input."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch import Trainer
from torch import nn

import zoo
from datamodules import ImageDataModule
from tests.conftest import trainer_kwargs
from tests.examples import ExampleDataModule
from zoo.generative.autoencoder import MLPVAE, ConvAutoencoder, MLPAutoencoder
from zoo.generative.dcgan import DCGAN, DCGANDiscriminator, DCGANGenerator
from zoo.generative.gan import MLPGAN
from zoo.tasks.generative import latent_path


def tiny_gan(**kwargs: Any) -> MLPGAN:
    return MLPGAN(**{"generator_sizes": (32,), "discriminator_sizes": (32,), "latent_dim": 8, "in_channels": 1,
                     "image_size": 8, **kwargs})


def tiny_vae(**kwargs: Any) -> MLPVAE:
    return MLPVAE(**{"hidden_sizes": (32,), "latent_dim": 4, "in_channels": 1, "image_size": 8, **kwargs})


# -- GAN ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("build", [
    lambda: tiny_gan(),
    lambda: DCGAN(generator_width=4, discriminator_width=4, latent_dim=8, in_channels=1, image_size=8),
    lambda: DCGAN(generator_width=4, discriminator_width=4, latent_dim=8, in_channels=1, image_size=8,
                  joint_batch=False),
], ids=["mlp", "dcgan-joint", "dcgan-separate"])
def test_one_gan_step_moves_both_players(build: Any, tmp_path: Any) -> None:
    model = build()
    before_g = [p.detach().clone() for p in model.net.generator.parameters()]
    before_d = [p.detach().clone() for p in model.net.discriminator.parameters()]
    trainer = Trainer(**trainer_kwargs(tmp_path, fast_dev_run=1))
    trainer.fit(model, datamodule=ExampleDataModule(model, batch_size=8))
    opt_g, opt_d = trainer.optimizers
    assert {id(p) for g in opt_g.param_groups for p in g["params"]} == {id(p) for p in model.net.generator.parameters()}
    assert {id(p) for g in opt_d.param_groups for p in g["params"]} == {
        id(p) for p in model.net.discriminator.parameters()}
    for opt in (opt_g, opt_d):  # Radford et al.: Adam, lr 2e-4, betas (0.5, 0.999), by default
        assert type(opt) is torch.optim.Adam
        assert opt.param_groups[0]["lr"] == 2e-4 and opt.param_groups[0]["betas"] == (0.5, 0.999)
    moved_g = [not torch.equal(a, b) for a, b in zip(before_g, model.net.generator.parameters())]
    moved_d = [not torch.equal(a, b) for a, b in zip(before_d, model.net.discriminator.parameters())]
    assert all(moved_g) and all(moved_d), (moved_g, moved_d)
    assert all(p.requires_grad for p in model.parameters())  # the toggling was undone


def test_generator_step_goes_through_the_updated_discriminator(tmp_path: Any, monkeypatch: Any) -> None:
    model = tiny_gan()
    seen: list[torch.Tensor] = []
    original = model.generator_loss

    def spy(fake_logits: torch.Tensor) -> torch.Tensor:
        seen.append(model.net.discriminator.layers[1].weight.detach().clone())
        return original(fake_logits)

    monkeypatch.setattr(model, "generator_loss", spy)
    start = model.net.discriminator.layers[1].weight.detach().clone()
    Trainer(**trainer_kwargs(tmp_path, fast_dev_run=1)).fit(model, datamodule=ExampleDataModule(model, batch_size=8))
    assert seen and not torch.equal(seen[0], start)  # the training step: D had already stepped


@pytest.mark.parametrize("scheduler", ["exponential", "cosine"])
def test_gan_steps_its_schedulers(scheduler: str, tmp_path: Any) -> None:
    # manual optimisation: Lightning leaves the schedulers to the model
    model = tiny_gan(scheduler=scheduler, gamma=0.5, min_lr=1e-5)
    trainer = Trainer(**trainer_kwargs(tmp_path, max_epochs=2, limit_val_batches=0))
    trainer.fit(model, datamodule=ExampleDataModule(model, batch_size=8))
    expected = 2e-4 * 0.5**2 if scheduler == "exponential" else 1e-5  # per epoch / to min_lr over the steps
    assert [opt.param_groups[0]["lr"] for opt in trainer.optimizers] == pytest.approx([expected] * 2)


def test_gan_losses_are_the_textbook_formulas() -> None:
    model = tiny_gan()
    real, fake = torch.randn(6), torch.randn(6)
    d = torch.sigmoid
    expected_d = -(torch.log(d(real)) + torch.log(1 - d(fake))).mean()
    assert torch.allclose(model.discriminator_loss(real, fake), expected_d, atol=1e-6)
    assert torch.allclose(model.generator_loss(fake), -torch.log(d(fake)).mean(), atol=1e-6)
    # non-saturating: when D rejects the samples (logit -10), -log D(G(z)) still has a gradient of ~1
    rejected = torch.full((4,), -10.0, requires_grad=True)
    model.generator_loss(rejected).backward()
    assert torch.allclose(rejected.grad, torch.full((4,), -0.25), atol=1e-4)
    saturating = torch.full((4,), -10.0, requires_grad=True)
    torch.log(1 - torch.sigmoid(saturating)).mean().backward()  # the minimax form: vanishing gradient
    assert saturating.grad.abs().max() < 1e-4


def test_mlp_gan_is_the_curriculum_network() -> None:
    model = zoo.create_model("gan_mlp")
    assert model.latent_dim == 100
    generator, discriminator = model.net.generator, model.net.discriminator
    assert any(isinstance(m, nn.BatchNorm1d) for m in generator.modules())
    leaky = [m for m in discriminator.modules() if isinstance(m, nn.LeakyReLU)]
    assert leaky and all(m.negative_slope == 0.2 for m in leaky)
    assert not any(isinstance(m, nn.Sigmoid) for m in model.modules())  # logits + BCEWithLogits
    assert model.sample(3).shape == (3, 1, 28, 28)


@pytest.mark.parametrize("size", [32, 64])
def test_dcgan_architecture_and_initialisation(size: int) -> None:
    model = zoo.create_model(f"dcgan_{size}")
    generator, discriminator = model.net.generator, model.net.discriminator
    ups = [m for m in generator.modules() if isinstance(m, nn.ConvTranspose2d)]
    downs = [m for m in discriminator.modules() if isinstance(m, nn.Conv2d)]
    assert len(ups) == len(downs) == int(math.log2(size)) - 1
    assert all(m.stride == (2, 2) for m in ups[1:]) and all(m.stride == (2, 2) for m in downs[:-1])
    assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.Linear)) for m in model.net.modules())
    assert isinstance(discriminator.layers[1], nn.LeakyReLU)  # no BatchNorm on D's input layer
    weights = torch.cat([m.weight.flatten() for m in ups + downs])
    assert abs(weights.mean()) < 2e-3 and abs(weights.std() - 0.02) < 1e-3  # N(0, 0.02)
    scales = torch.cat([m.weight for m in model.net.modules() if isinstance(m, nn.BatchNorm2d)])
    assert abs(scales.mean() - 1) < 5e-3 and abs(scales.std() - 0.02) < 5e-3  # N(1, 0.02)
    z = torch.randn(2, 100)
    assert generator(z).shape == (2, 1, size, size)
    assert discriminator(generator(z)).shape == (2,)


def test_dcgan_matches_the_pytorch_examples_parameter_counts() -> None:
    # pytorch/examples dcgan/main.py (nz=100, ngf=ndf=64, nc=3, 64 px): 3,576,704 and 2,765,568
    assert sum(p.numel() for p in DCGANGenerator(100, 3, 64).parameters()) == 3_576_704
    assert sum(p.numel() for p in DCGANDiscriminator(3, 64).parameters()) == 2_765_568


def test_gan_api() -> None:
    model = tiny_gan()
    model.train()
    samples = model.sample(5, generator=torch.Generator().manual_seed(1))
    assert samples.shape == (5, 1, 8, 8) and 0 <= samples.min() and samples.max() <= 1
    assert model.training  # the API restores the mode it found
    assert torch.equal(samples, model.sample(5, generator=torch.Generator().manual_seed(1)))
    a, b = torch.randn(2, 8), torch.randn(2, 8)
    path = model.interpolate(a, b, steps=6)
    assert path.shape == (2, 6, 1, 8, 8)
    model.eval()
    assert torch.allclose(path[:, 0], model.decode(a), atol=1e-5)
    assert torch.allclose(path[:, -1], model.decode(b), atol=1e-5)
    assert model.predict_step(torch.zeros(3, 1, 8, 8))["pred"].shape == (3, 1, 8, 8)  # 3 fresh samples
    assert torch.allclose(model.predict_step(a)["pred"], model.decode(a))  # latent codes are decoded


def test_slerp_keeps_the_norm_of_gaussian_codes() -> None:
    a, b = torch.randn(1, 256), torch.randn(1, 256)
    middle = latent_path(a, b, 3, spherical=True)[0, 1]
    linear = latent_path(a, b, 3)[0, 1]
    assert abs(middle.norm() - a.norm()) < 0.1 * a.norm()  # about sqrt(256) = 16, like a and b
    assert linear.norm() < 0.8 * a.norm()  # the straight line cuts through the low-density centre


# -- autoencoders and VAEs -----------------------------------------------------------------------
def test_vae_pieces_are_the_textbook_formulas() -> None:
    mu, logvar = torch.randn(5, 4), torch.randn(5, 4)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros(4), torch.ones(4))
    expected = torch.distributions.kl_divergence(q, p).sum(-1)
    assert torch.allclose(MLPVAE.kl_divergence(mu, logvar), expected, atol=1e-5)
    mu.requires_grad_(True), logvar.requires_grad_(True)
    MLPVAE.reparameterize(mu, logvar).sum().backward()  # the noise is an input: gradients reach both
    assert torch.equal(mu.grad, torch.ones_like(mu)) and logvar.grad.abs().sum() > 0


@pytest.mark.parametrize("beta", [1.0, 4.0])
def test_vae_loss_is_reconstruction_plus_beta_kl(beta: float) -> None:
    model = tiny_vae(beta=beta)
    x = torch.rand(6, 1, 8, 8)
    torch.manual_seed(3)
    loss = model.training_step((x, torch.zeros(6)), 0)
    torch.manual_seed(3)
    mu, logvar = model.posterior(x)
    logits = model.net.decoder(mu + torch.exp(0.5 * logvar) * torch.randn_like(mu))
    rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum((1, 2, 3))
    assert torch.allclose(loss, (rec + beta * model.kl_divergence(mu, logvar)).mean(), atol=1e-4)


def test_gaussian_likelihood_is_a_density() -> None:
    model = tiny_vae(likelihood="gaussian", sigma=0.2)
    logits, x = torch.randn(3, 1, 8, 8), torch.rand(3, 1, 8, 8)
    normal = torch.distributions.Normal(torch.sigmoid(logits), 0.2)
    assert torch.allclose(model.reconstruction_nll(logits, x), -normal.log_prob(x).sum((1, 2, 3)), atol=1e-4)


def test_importance_weighted_likelihood_is_exact_when_z_is_ignored() -> None:
    # q(z|x) = p(z) and a decoder that ignores z: every weight is p(x), so log p(x) is exact for any k
    model = tiny_vae()
    nn.init.zeros_(model.net.encoder.layers[-1].weight), nn.init.zeros_(model.net.encoder.layers[-1].bias)
    nn.init.zeros_(model.net.decoder.layers[0].weight)
    x = torch.rand(4, 1, 8, 8)
    exact = -model.reconstruction_nll(model.net.decoder(torch.zeros(4, 4)), x)
    assert torch.allclose(model.log_likelihood(x, k=7, chunk=3), exact, atol=1e-4)
    assert torch.allclose(model.elbo(x), exact, atol=1e-4)


def test_importance_weighting_tightens_the_elbo() -> None:
    model = tiny_vae()
    x = torch.rand(16, 1, 8, 8)
    elbo = model.elbo(x).mean()
    iw = model.log_likelihood(x, k=200).mean()
    assert iw > elbo + 0.1  # Burda et al.: the k-sample bound is at least the ELBO, and tighter


def test_autoencoder_samples_from_a_gaussian_fitted_to_its_codes(tmp_path: Any) -> None:
    model = MLPAutoencoder(hidden_sizes=(16,), latent_dim=3, in_channels=1, image_size=8, lr=0.0,
                           scheduler="constant")
    data = ExampleDataModule(model, batch_size=8, batches=3)
    Trainer(**trainer_kwargs(tmp_path, max_epochs=1, limit_val_batches=0)).fit(model, datamodule=data)
    codes = torch.cat([model.encode(x) for x, _ in data.data]).double()  # lr = 0: the codes it saw
    assert torch.allclose(model.latent_loc.double(), codes.mean(0), atol=1e-5)
    cov = model.latent_scale_tril.double() @ model.latent_scale_tril.double().T
    assert torch.allclose(cov, torch.cov(codes.T), atol=1e-4)
    samples = model.sample(4)
    assert samples.shape == (4, 1, 8, 8) and 0 <= samples.min() and samples.max() <= 1


@pytest.mark.parametrize("build", [lambda: tiny_vae(), lambda: ConvAutoencoder(widths=(4, 8), latent_dim=3,
                                                                                in_channels=1, image_size=8)])
def test_autoencoder_api(build: Any) -> None:
    model = build()
    a, b = torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 8)
    assert model.encode(a).shape == (2, model.latent_dim)
    recon = model.reconstruct(a)
    assert recon.shape == a.shape and 0 <= recon.min() and recon.max() <= 1
    path = model.interpolate(a, b, steps=5)
    assert path.shape == (2, 5, 1, 8, 8)
    assert torch.allclose(path[:, 0], recon, atol=1e-5) and torch.allclose(path[:, -1], model.reconstruct(b), atol=1e-5)
    assert model.interpolate(a[0], b[0], steps=3).shape == (3, 1, 8, 8)
    out = model.predict_step((a, torch.zeros(2)))
    assert torch.allclose(out["pred"], recon, atol=1e-6) and out["latent"].shape == (2, model.latent_dim)


def test_normalised_data_is_modelled_in_pixels() -> None:
    model = tiny_vae()
    model.on_data_card({"modality": "image", "in_channels": 1, "image_size": 8, "mean": [0.3], "std": [0.25]})
    pixels = torch.rand(2, 1, 8, 8)
    assert torch.allclose(model.to_pixels((pixels - 0.3) / 0.25), pixels, atol=1e-6)


def test_bad_input_gets_a_clear_error() -> None:
    model = tiny_vae()
    with pytest.raises(ValueError, match=r"expects images of shape \(B, 1, 8, 8\), got \(2, 1, 16, 16\)"):
        model(torch.rand(2, 1, 16, 16))
    with pytest.raises(ValueError, match="models images, but the datamodule provides tabular data"):
        model.on_data_card({"modality": "tabular"})
    with pytest.raises(ValueError, match="built for 1×8×8 images, but the data provides 3×32×32"):
        model.on_data_card({"modality": "image", "in_channels": 3, "image_size": 32})
    with pytest.raises(ValueError, match="likelihood='poisson'"):
        tiny_vae(likelihood="poisson")
    with pytest.raises(ValueError, match="power of two >= 8.*got 48"):
        DCGAN(in_channels=1, image_size=48)
    with pytest.raises(ValueError, match="divisible by 8, got 12"):
        ConvAutoencoder(in_channels=1, image_size=12)
    with pytest.raises(ValueError, match=r"noise must have shape \(3, 4\)"):
        model.sample(3, noise=torch.randn(3, 5))
    with pytest.raises(ValueError, match="image_size is not set"):
        MLPVAE(in_channels=1)


def test_vae_learns_the_digits(tmp_path: Any) -> None:
    torch.manual_seed(0)
    model = MLPVAE(hidden_sizes=(128,), latent_dim=8, in_channels=1, image_size=8, lr=3e-3)
    data = ImageDataModule(dataset="digits", normalize="none", augment="none", batch_size=64)
    trainer = Trainer(**trainer_kwargs(tmp_path, max_epochs=3))  # validate (inference mode), then fit
    before = trainer.validate(model, datamodule=data, verbose=False)[0]["val/elbo"]
    trainer.fit(model, datamodule=data)
    after = trainer.validate(model, datamodule=data, verbose=False)[0]["val/elbo"]
    print(f"val ELBO {before:.2f} -> {after:.2f}")
    assert after > before + 10, (before, after)  # nats per 8×8 image
