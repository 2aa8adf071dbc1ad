"""Generative models: GAN (MLP), DCGAN, autoencoders and VAEs (MLP and convolutional)."""
