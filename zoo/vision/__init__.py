"""Vision models: the CNN evolution, modern CNNs, ViT, transfer learning."""

# importing a family module registers its presets
from zoo.vision import alexnet, densenet, efficientnet, lenet, mobilenet, resnet, transfer, vgg, vit  # noqa: F401
