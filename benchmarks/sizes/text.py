"""Text: ``tcn_text_languages.yaml`` (or ``--recipes gru_languages``, twice as slow) on the embedded language
identification sentences (chatterbot-corpus, 19 languages) as the CSV a user would bring (``--data.path
texts.csv``, columns ``text,label``): a tenth of the sentences and all of them. Baseline: TF-IDF of character
1-4-grams + logistic regression on the datamodule's own split (as ``benchmarks/text_classification.py``). There
is no larger set: the corpus is real sentences, all the package ships, and there is no honest way to make more."""

from __future__ import annotations

from pathlib import Path

from benchmarks.sizes.runner import Family, Size, datamodule

RECIPES = {"tcn_text_languages": "configs/text/tcn_text_languages.yaml",
           "gru_languages": "configs/text/gru_languages.yaml"}


def sizes(folder: Path) -> list[Size]:
    import pandas as pd
    from sklearn.model_selection import train_test_split

    from datamodules.text_sources import chatterbot_languages

    texts, labels = chatterbot_languages()
    frame = pd.DataFrame({"text": texts, "label": labels})
    tenth, _ = train_test_split(frame, train_size=0.1, random_state=0, stratify=frame["label"])
    out = []
    for name, part in (("tenth", tenth), ("full", frame)):
        path = folder / f"languages_{name}.csv"
        part.to_csv(path, index=False)
        out.append(Size(f"{len(part)} sentences", ["--data.path", str(path)]))
    return out


def baseline(recipe: str, data: list[str]) -> tuple[float, int]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    dm = datamodule(recipe, data)
    y, yt = dm.splits["train"][1].numpy(), dm.splits["test"][1].numpy()
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, min_df=2)
    x = vectorizer.fit_transform(dm.split_texts["train"])
    model = LogisticRegression(C=10.0, max_iter=3000).fit(x, y)
    return float(model.score(vectorizer.transform(dm.split_texts["test"]), yt)), len(y)


FAMILY = Family(
    "languages", "Language identification sentences as a CSV (a tenth, all), recipe as it is: test accuracy "
    "against TF-IDF (character 1-4-grams) + logistic regression on the same split", RECIPES, "TF-IDF",
    sizes, baseline, notes=["no larger set: the corpus's real sentences are all there are"],
)
