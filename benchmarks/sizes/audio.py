"""Audio: ``mel_cnn_small.yaml`` on the generated DTMF task at three sizes (``--data.num_clips``: a tenth of the
recipe's 3,200 clips, all of them, four times as many). Baseline: logistic regression on the mean over frames of
40 MFCCs (the zoo's own audio frontend), standardised, on the datamodule's own split."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.sizes.runner import Family, Size, datamodule

RECIPES = {"mel_cnn_small": "configs/audio/mel_cnn_small.yaml"}
CLIPS = [320, 3200, 12800]


def sizes(folder: Path) -> list[Size]:
    return [Size(f"{n} clips", [f"--data.num_clips={n}"]) for n in CLIPS]


def baseline(recipe: str, data: list[str]) -> tuple[float, int]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from datamodules.audio import crop_or_pad
    from zoo.layers.audio import AudioFrontend

    dm = datamodule(recipe, data)
    frontend = AudioFrontend("mfcc", dm.card["sample_rate"], n_mels=64, n_mfcc=40)
    n = dm.card["num_samples"]

    def mean_mfcc(split: str) -> tuple[np.ndarray, np.ndarray]:
        waves, lengths, labels = dm.splits[split]
        return frontend.features(crop_or_pad(waves, lengths, n, random=False)).mean(-1).numpy(), labels.numpy()

    (x, y), (xt, yt) = mean_mfcc("train"), mean_mfcc("test")
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(x, y)
    return float(model.score(xt, yt)), len(y)


FAMILY = Family(
    "dtmf", "Generated DTMF clips at three sizes, recipe as it is: test accuracy against logistic regression on "
    "mean MFCCs of the same split", RECIPES, "logreg MFCC", sizes, baseline,
)
