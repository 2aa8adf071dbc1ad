"""Time-series models: multi-step forecasters and series classifiers."""

# importing a family module registers its presets
from zoo.timeseries import cnn, rnn, seq2seq, tcn, transformer  # noqa: F401
