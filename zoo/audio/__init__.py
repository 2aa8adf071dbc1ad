"""Audio classifiers: raw waveforms in, a feature frontend (``zoo.layers.audio``) inside each network."""

# importing a family module registers its presets
from zoo.audio import m5, mel_cnn, rnn, transformer  # noqa: F401
