"""Time-series models: multi-step forecasters and series classifiers."""
