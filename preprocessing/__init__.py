"""Preprocessing: the one home of how raw inputs become model inputs, below both ``zoo`` and ``datamodules``.

The datamodules use it to train; a loaded model (:mod:`zoo.raw`) uses it to predict on raw inputs;
export bakes the same steps into the graph. It imports neither ``zoo`` nor ``datamodules``.

- :mod:`preprocessing.errors`: :class:`~preprocessing.errors.UserError`, the one exception for a
  user's mistake (every floor raises it; the CLI prints it and exits with status 2).
- :mod:`preprocessing.image`: decode a file / PIL image to ``uint8`` at a size, channels, normalise.
- :mod:`preprocessing.audio`: decode (soundfile), resample (soxr), pack and crop clips.
- :mod:`preprocessing.tokenizers` and :mod:`preprocessing.text`: the tokenizers and how texts become
  padded ids.
- :mod:`preprocessing.tables` and :mod:`preprocessing.delimited`: read CSV / TSV / Parquet; encode
  rows with a data card.
- :mod:`preprocessing.series`: read UCR/UEA series files; shape and normalise series with a card.
"""
