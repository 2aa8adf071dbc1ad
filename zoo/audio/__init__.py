"""Audio classifiers: raw waveforms in, a feature frontend (``zoo.layers.audio``) inside each network."""
