"""The families of ``benchmarks/data_sizes.py``: one module per data modality, each naming its recipes, how it
makes its data at three sizes and its classical baseline; ``runner`` fits, compares and records them."""
