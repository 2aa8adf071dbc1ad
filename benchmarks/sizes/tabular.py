"""Tabular: ``mlp_breast_cancer.yaml`` on a tenth of scikit-learn's breast cancer rows and on all 569, each
written as the CSV a user would bring (``--data.path rows.csv --data.target diagnosis``); baseline: logistic
regression on the datamodule's own split and scaled features. There is no larger set: the 569 rows are all
the source has, and copies of them would only be the same rows again."""

from __future__ import annotations

from pathlib import Path

from benchmarks.sizes.runner import Family, Size, datamodule

RECIPES = {"mlp_breast_cancer": "configs/tabular/mlp_breast_cancer.yaml"}


def sizes(folder: Path) -> list[Size]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.rename(columns={"target": "diagnosis"})
    frame["diagnosis"] = [bunch.target_names[t] for t in bunch.target]
    tenth, _ = train_test_split(frame, train_size=0.1, random_state=0, stratify=frame["diagnosis"])
    out = []
    for name, part in (("tenth", tenth), ("full", frame)):
        path = folder / f"breast_cancer_{name}.csv"
        part.to_csv(path, index=False)
        out.append(Size(f"{len(part)} rows", ["--data.path", str(path), "--data.target", "diagnosis"]))
    return out


def baseline(recipe: str, data: list[str]) -> tuple[float, int]:
    from sklearn.linear_model import LogisticRegression

    dm = datamodule(recipe, data)
    (x, y), (xt, yt) = dm.splits["train"], dm.splits["test"]
    return float(LogisticRegression(max_iter=5000).fit(x.numpy(), y.numpy()).score(xt.numpy(), yt.numpy())), len(y)


FAMILY = Family(
    "breast_cancer", "Breast cancer rows (a tenth, all 569) as a CSV, recipe as it is: test accuracy against "
    "logistic regression on the same split", RECIPES, "logreg", sizes, baseline,
    notes=["no larger set: the 569 rows are all the source has"],
)
