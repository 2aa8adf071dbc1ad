"""Tabular models: the deep MLP for classification and regression."""

# importing a family module registers its presets
from zoo.tabular import mlp  # noqa: F401
