"""Vision models: the CNN evolution, modern CNNs, ViT, transfer learning."""
