"""Sample quality without Inception weights: a classifier of the zoo, trained on the real data, scores samples.

For digits (or any labelled image set) a classifier trained on the real training split judges
generated images the way the Inception Score and FID judge ImageNet-like ones, with no download:

- ``confidence``: mean over samples of the classifier's top class probability (recognisable
  samples score near its value on real test images);
- ``classes_covered``: classes predicted for at least ``min_fraction`` of the samples (all of
  them: no mode collapse), with ``min_class_share`` (the rarest class's share × number of
  classes: 1.0 is perfectly balanced);
- ``frechet``: the Fréchet distance between Gaussians fitted to the classifier's penultimate-layer
  features of real and generated images (FID's formula, Heusel et al. 2017, arXiv:1706.08500, in
  this classifier's feature space). It is computed by torchmetrics' ``FrechetInceptionDistance``
  with :class:`ClassifierFeatures` as its feature extractor; torchmetrics takes the trace of the
  matrix square root as the sum of the square roots of the eigenvalues of ``Σ₁Σ₂`` (``torch.linalg.eigvals``).

:func:`inception_fid` is the standard FID (torchmetrics, Inception-v3 features): it needs the
``torch-fidelity`` package and downloads the Inception weights on first use, so a network.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics.image.fid import FrechetInceptionDistance

from preprocessing.image import to_channels

__all__ = ["ClassifierFeatures", "classifier_scores", "classify", "frechet_distance", "inception_fid"]


class ClassifierFeatures(nn.Module):
    """[0, 1] pixel images of any size → the penultimate-layer features of a trained zoo classifier.

    Images are resized (bilinear, antialiased: as the image datamodule resizes) and converted to the
    classifier's geometry, normalised with its data card's statistics, and run through its network;
    the features are the input of the last ``nn.Linear`` (caught by a forward pre-hook), the logits
    of the last call are kept in ``self.logits``.

    Args:
        classifier: a trained image classifier of the zoo (``in_channels``, ``image_size``,
            ``data_card`` with ``mean``/``std``, and a network ending in ``nn.Linear``).
    """

    def __init__(self, classifier: Any) -> None:
        super().__init__()
        self.classifier = classifier.eval()
        self.channels, self.size = classifier.in_channels, classifier.image_size
        card = getattr(classifier, "data_card", {}) or {}
        self.register_buffer("mean", torch.tensor(card.get("mean", [0.0] * self.channels)).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(card.get("std", [1.0] * self.channels)).view(1, -1, 1, 1))
        linears = [m for m in classifier.modules() if isinstance(m, nn.Linear)]
        if not linears:
            raise TypeError(f"{type(classifier).__name__} has no nn.Linear head to take features before")
        self.num_features = linears[-1].in_features  # read by torchmetrics' FID
        self._features: Tensor | None = None
        self.logits: Tensor | None = None
        linears[-1].register_forward_pre_hook(self._catch)

    def _catch(self, module: nn.Module, args: tuple[Tensor, ...]) -> None:
        self._features = args[0]

    def prepare(self, images: Tensor) -> Tensor:
        """[0, 1] images ``(B, C, H, W)`` → the classifier's normalised input."""
        x = to_channels(images.float(), self.channels)  # as the datamodule converts
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False)
        return (x.clamp(0, 1) - self.mean) / self.std

    @torch.no_grad()
    def forward(self, images: Tensor) -> Tensor:
        self.logits = self.classifier(self.prepare(images.to(self.mean.device)))
        assert self._features is not None
        return self._features.flatten(1)


@torch.no_grad()
def classify(features: ClassifierFeatures, images: Tensor, batch_size: int = 256) -> tuple[Tensor, Tensor]:
    """``(probabilities (N, num_classes), features (N, num_features))`` of [0, 1] images ``(N, C, H, W)``."""
    probs, feats = [], []
    for chunk in images.split(batch_size):
        feats.append(features(chunk).cpu())
        assert features.logits is not None
        probs.append(features.logits.float().softmax(-1).cpu())
    return torch.cat(probs), torch.cat(feats)


def classifier_scores(probs: Tensor, min_fraction: float = 0.01) -> dict[str, float]:
    """Confidence and class coverage of samples from their class probabilities ``(N, num_classes)``.

    Args:
        probs: the classifier's probabilities for each sample.
        min_fraction: a class counts as covered when predicted for at least this share of samples.
    """
    num_classes = probs.shape[1]
    counts = torch.bincount(probs.argmax(-1), minlength=num_classes).float()
    shares = counts / counts.sum()
    return {
        "confidence": float(probs.max(-1).values.mean()),
        "classes_covered": int((shares >= min_fraction).sum()),
        "min_class_share": float(shares.min() * num_classes),
    }


@torch.no_grad()
def frechet_distance(features: nn.Module, real: Tensor, fake: Tensor, batch_size: int = 256) -> float:
    """Fréchet distance between real and generated [0, 1] images in the space of ``features``.

    ``features`` maps ``(B, C, H, W)`` [0, 1] images to ``(B, D)`` and has a ``num_features``
    attribute (:class:`ClassifierFeatures`, or ``zoo.tasks.generative.PixelFeatures``).
    """
    metric = FrechetInceptionDistance(feature=features, normalize=True).to(real.device)
    for chunk in real.split(batch_size):
        metric.update(chunk, real=True)
    for chunk in fake.split(batch_size):
        metric.update(chunk.to(real.device), real=False)
    return float(metric.compute())


@torch.no_grad()
def inception_fid(real: Tensor, fake: Tensor, batch_size: int = 64) -> float:
    """The standard FID (2048 Inception-v3 pool features) of [0, 1] images; grey images are repeated to RGB.

    Needs ``torch-fidelity`` (``pip install torchmetrics[image]``) and a network for the Inception
    weights the first time.
    """
    metric = FrechetInceptionDistance(feature=2048, normalize=True).to(real.device)

    def rgb(x: Tensor) -> Tensor:
        return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x

    for chunk in real.split(batch_size):
        metric.update(rgb(chunk), real=True)
    for chunk in fake.split(batch_size):
        metric.update(rgb(chunk.to(real.device)), real=False)
    return float(metric.compute())
