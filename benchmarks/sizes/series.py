"""Time series: ``cnn1d_cbf.yaml`` and ``lstm_cbf.yaml`` on generated cylinder-bell-funnel series (90, 900 and
3,600: a tenth, the recipes' own size, four times as many; ``--data.num_series``), or one UCR/UEA folder
(``--path``, the archive's own split). Baseline: 1-nearest-neighbour (Euclidean) on the normalised series of the
datamodule's own split."""

from __future__ import annotations

from pathlib import Path

from benchmarks.sizes.runner import Family, Size, datamodule

RECIPES = {"cnn1d_cbf": "configs/timeseries/cnn1d_cbf.yaml", "lstm_cbf": "configs/timeseries/lstm_cbf.yaml"}
SERIES = [90, 900, 3600]


def baseline(recipe: str, data: list[str]) -> tuple[float, int]:
    from sklearn.neighbors import KNeighborsClassifier

    dm = datamodule(recipe, data)
    (x, y), (xt, yt) = dm.arrays("train"), dm.arrays("test")
    knn = KNeighborsClassifier(n_neighbors=1).fit(x.reshape(len(x), -1), y)
    return float(knn.score(xt.reshape(len(xt), -1), yt)), len(y)


def family(path: str | None = None) -> Family:
    """The generated sizes, or the UCR/UEA folder at ``path``."""
    if path:
        name = Path(path).name
        return Family(name, f"{name} (the archive's split), recipes as they are: test accuracy against 1-NN "
                      "Euclidean on the same split", RECIPES, "1-NN", lambda _: [Size(name, ["--data.path", path])],
                      baseline)  # fmt: skip
    return Family("cbf", "Cylinder-bell-funnel at three sizes, recipes as they are: test accuracy against 1-NN "
                  "Euclidean on the same split", RECIPES, "1-NN",
                  lambda _: [Size(f"{n} series", [f"--data.num_series={n}"]) for n in SERIES], baseline)
