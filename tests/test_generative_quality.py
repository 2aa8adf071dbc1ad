"""The classifier-based quality measures against their definitions (scipy's matrix square root for Fréchet)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import linalg

import zoo
from zoo.generative.quality import ClassifierFeatures, classifier_scores, classify, frechet_distance
from zoo.tasks.generative import PixelFeatures


def scipy_frechet(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||² + Tr(S_a + S_b - 2 (S_a S_b)^½), the square root by scipy.linalg.sqrtm."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(s_a @ s_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a + s_b - 2 * root))


def test_frechet_distance_matches_scipy() -> None:
    generator = torch.Generator().manual_seed(0)
    real = torch.rand(300, 1, 4, 4, generator=generator)
    fake = (torch.rand(200, 1, 4, 4, generator=generator) ** 2) * 0.8  # another distribution
    features = PixelFeatures(1, 2)  # 4 features: 2×2 average-pooled pixels
    expected = scipy_frechet(features(real).double().numpy(), features(fake).double().numpy())
    assert frechet_distance(features, real, fake) == pytest.approx(expected, rel=1e-4)
    same = frechet_distance(features, real, real)
    assert abs(same) < 1e-4 and expected > 0.05


def test_classifier_scores() -> None:
    probs = torch.zeros(100, 10)
    probs[:, 9] = 0.4
    probs[torch.arange(100), torch.arange(100) % 5] = 0.6  # classes 0-4 predicted 20 times each, at 0.6
    scores = classifier_scores(probs)
    assert scores["confidence"] == pytest.approx(0.6)
    assert scores["classes_covered"] == 5 and scores["min_class_share"] == 0.0
    uniform = torch.eye(10).repeat(3, 1)  # every class 3 times, with certainty
    assert classifier_scores(uniform) == {"confidence": 1.0, "classes_covered": 10, "min_class_share": 1.0}
    rare = torch.eye(10)[torch.tensor([0] * 995 + list(range(1, 6)))]  # 5 classes seen once in 1000
    assert classifier_scores(rare)["classes_covered"] == 1  # a single sample is not coverage


def test_classifier_features_are_the_penultimate_layer() -> None:
    judge = zoo.create_model("lenet5", activation="relu", pool="max").eval()
    judge.data_card = {"mean": [0.3], "std": [0.2]}
    features = ClassifierFeatures(judge)
    assert features.num_features == 84  # LeNet-5's F6
    images = torch.rand(5, 1, 8, 8)  # digits-sized: resized to the judge's 32 px
    x = (F.interpolate(images, size=(32, 32), mode="bilinear", antialias=True) - 0.3) / 0.2
    net = judge.net
    expected = net.classifier[:-1](net.features(x))
    probs, feats = classify(features, images, batch_size=2)
    assert torch.allclose(feats, expected, atol=1e-5)
    assert torch.allclose(probs, judge(x).softmax(-1), atol=1e-5)
    rgb = images.expand(-1, 3, -1, -1)  # grey from RGB by luminance: the same image
    assert torch.allclose(classify(features, rgb)[1], expected, atol=1e-4)
