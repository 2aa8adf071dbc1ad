"""Generative models: GAN (MLP), DCGAN, autoencoders and VAEs (MLP and convolutional)."""

# importing a family module registers its presets
from zoo.generative import autoencoder, dcgan, gan  # noqa: F401
