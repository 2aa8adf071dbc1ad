"""The pieces of zoo.exporting against the code they mirror, the other formats, refusals and the CLI.

- the in-graph preprocessing equals the DataModules' functions (images, tables, series)
- the real-valued STFT equals ``torch.stft``; the unpacked recurrent encoder equals the packed one
- ``tokenizer.json`` encodes as the zoo tokenizers do (characters, words, byte-level BPE)
- ``exported_program`` and ``torchscript`` round-trips, and TorchScript's refusal of a trace that
  does not generalise
- what cannot be exported says why (a GAN's discriminator, a model without a data card)
- ``python -m zoo export`` on a pretrained directory and a ``.ckpt``, and its exit status 2 on bad input
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from lightning.pytorch import Trainer

import zoo
from preprocessing.image import normalize_images
from preprocessing.series import normalise
from preprocessing.tables import encode_features
from preprocessing.tokenizers import CharTokenizer, HFTokenizer, WordTokenizer
from tests.conftest import trainer_kwargs
from tests.examples import ExampleDataModule
from zoo.exporting import Graph, graphs_for
from zoo.exporting.formats import write_exported_program, write_torchscript
from zoo.exporting.preprocess import Pixels, SeriesNormalise, TableRows
from zoo.exporting.tokenizer_json import tokenizer_json
from zoo.layers.audio import real_power_spectrogram, stft_sizes
from zoo.layers.recurrent import RecurrentEncoder

ROOT = Path(__file__).resolve().parent.parent
TEXTS = ["Hello, world! It's 2026.", "naïve café — déjà vu?", "  two  spaces\tand a tab\nnew line", "ünïcödé ✓"]


def _lenet(card: bool = True) -> zoo.ZooModule:
    model = zoo.create_model("lenet5").eval()
    if card:
        model.data_card = {"modality": "image", "mean": [0.4], "std": [0.2], "classes": [str(i) for i in range(10)],
                           "in_channels": 1, "image_size": 32}  # fmt: skip
    return model


# -- preprocessing --------------------------------------------------------------------------------
def test_pixels_match_the_image_datamodule() -> None:
    images = torch.randint(0, 256, (3, 3, 8, 8), dtype=torch.uint8)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    torch.testing.assert_close(Pixels(mean, std)(images), normalize_images(images, mean, std))


def test_table_rows_match_encode_features() -> None:
    frame = pd.DataFrame({"a": [1.5, np.nan, -3.0], "b": [10.0, 20.0, np.nan], "c": ["x", "y", None]})
    card = {"numeric": ["a", "b"], "categories": {"c": ["x", "y"]}, "fill": [0.5, 15.0],
            "scaler": {"loc": [0.1, 12.0], "scale": [2.0, 4.0]}}  # fmt: skip
    want = encode_features(frame, card, "test")
    rows = TableRows(card["fill"], card["scaler"]["loc"], card["scaler"]["scale"], categorical=True)
    numeric = torch.tensor(frame[["a", "b"]].to_numpy(), dtype=torch.float32)
    got = rows(numeric, want[:, 2:])  # the one-hot codes are computed outside the graph
    torch.testing.assert_close(got, want)
    assert torch.isfinite(got).all()


@pytest.mark.parametrize("kind", ["series", "dataset", "none"])
def test_series_normalisation_matches_the_datamodule(kind: str) -> None:
    x = np.random.default_rng(0).normal(3, 2, (4, 2, 50)).astype(np.float32)
    x[0, 1] = 7.0  # a constant series: its spread is replaced by 1
    mean, std = [1.0, -2.0], [2.0, 0.5]
    got = SeriesNormalise(kind, mean, std)(torch.from_numpy(x))
    np.testing.assert_allclose(got.numpy(), normalise(x, kind, mean, std), atol=1e-5)


def test_real_stft_matches_torch_stft() -> None:
    n_fft, win, hop = stft_sizes(16000, 25, 10)
    window = torch.hann_window(win, periodic=True)
    x = torch.randn(3, 4000)
    want = torch.stft(x, n_fft, hop, win, window, center=True, pad_mode="reflect", return_complex=True).abs().pow(2)
    got = real_power_spectrogram(x, n_fft, hop, window)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, atol=1e-3 * want.max().item(), rtol=1e-4)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_unpacked_recurrent_encoder_matches_packed(cell: str, bidirectional: bool) -> None:
    encoder = RecurrentEncoder(cell, 5, 7, num_layers=2, bidirectional=bidirectional).eval()
    x, lengths = torch.randn(4, 9, 5), torch.tensor([9, 3, 1, 6])
    outputs, final, _ = encoder(x, lengths)
    encoder.export_friendly = True
    padded_outputs, padded_final, state = encoder(x, lengths)
    torch.testing.assert_close(padded_outputs, outputs)
    torch.testing.assert_close(padded_final, final)
    assert state is None


# -- tokenizer.json -------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["char", "word", "word_cased", "bpe"])
def test_tokenizer_json_encodes_as_the_zoo_tokenizer(kind: str) -> None:
    from tokenizers import Tokenizer

    corpus = ["Hello world, hello again!", "It's a café; déjà vu.", "spaces  and\ttabs"] * 3
    if kind == "char":
        tok = CharTokenizer.fit(corpus)
    elif kind.startswith("word"):
        tok = WordTokenizer.fit(corpus, lowercase=kind == "word")
    else:
        tok = HFTokenizer.train_bpe(corpus, vocab_size=300, min_freq=1)
    backend = Tokenizer.from_str(tokenizer_json(tok))
    for text in TEXTS + corpus:
        assert backend.encode(text, add_special_tokens=False).ids == tok.encode(text), text


def test_text_export_writes_tokenizer_json(tmp_path: Path) -> None:
    from tokenizers import Tokenizer

    tok = WordTokenizer.fit(["the cat sat", "a dog ran"])
    model = zoo.create_model("tcn_text", vocab_size=tok.vocab_size, max_seq_len=16, num_classes=3, pad_token_id=0)
    model.data_card = {"modality": "text", "task": "multiclass", "tokenizer": tok.to_card(),
                       "specials": dict(tok.specials), "classes": ["a", "b", "c"]}  # fmt: skip
    paths = zoo.export(model, tmp_path / "text.onnx")
    assert paths == [tmp_path / "text.onnx", tmp_path / "tokenizer.json"]
    assert Tokenizer.from_file(str(paths[1])).encode("the dog sat").ids == tok.encode("the dog sat")


# -- refusals -------------------------------------------------------------------------------------
def test_gan_discriminator_is_refused_naming_the_generator() -> None:
    model = zoo.create_model("dcgan_32")
    with pytest.raises(zoo.UserError, match="discriminator.*--part generator"):
        graphs_for(model, part="discriminator")
    with pytest.raises(zoo.UserError, match="no part 'encoder'"):
        graphs_for(model, part="encoder")
    assert graphs_for(model)[0].output_names == ["images"]  # the generator by default


def test_image_model_without_data_card_is_refused() -> None:
    with pytest.raises(zoo.UserError, match="no data card with normalisation statistics"):
        graphs_for(_lenet(card=False))


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(zoo.UserError, match="format='tflite' is not one of onnx, exported_program, torchscript"):
        zoo.export(_lenet(), tmp_path / "m.tflite", format="tflite")  # type: ignore[arg-type]


# -- exported_program and TorchScript -------------------------------------------------------------
def _reference(graph: Graph, inputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    with torch.no_grad():
        return graph.module(*inputs)


@pytest.mark.parametrize("name", ["lenet5", "gru", "mel_cnn_small", "gpt_nano"])
def test_exported_program_round_trip(name: str, tmp_path: Path) -> None:
    model = _lenet() if name == "lenet5" else zoo.create_model(name, **(zoo.get_card(name).test_overrides or {}))
    graph = graphs_for(model)[0]
    path = write_exported_program(graph, tmp_path / f"{name}.pt2")
    loaded = torch.export.load(str(path)).module()
    for batch in (2, 3):
        inputs = tuple(torch.cat([x, x[:1]]) if batch == 3 and i == 0 else x for i, x in enumerate(graph.inputs))
        if name == "gpt_nano" and batch == 3:  # the caches carry the batch on axis 1
            inputs = (inputs[0], *(torch.cat([x, x[:, :1]], dim=1) for x in graph.inputs[1:]))
        for got, want in zip(loaded(*inputs), _reference(graph, inputs), strict=True):
            torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_torchscript_round_trip(tmp_path: Path) -> None:
    graph = graphs_for(_lenet())[0]
    path = write_torchscript(graph, tmp_path / "lenet5.pt")
    extra = {"zoo.json": ""}
    loaded = torch.jit.load(str(path), _extra_files=extra)
    images = torch.randint(0, 256, (5, 1, 32, 32), dtype=torch.uint8)
    for got, want in zip(loaded(images), _reference(graph, (images,)), strict=True):
        torch.testing.assert_close(got, want)
    assert '"classes"' in extra["zoo.json"].decode()


class _BatchBaked(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        return (x * int(x.shape[0]),)  # a Python int: the trace records the batch size as a constant


def test_torchscript_refuses_a_trace_that_does_not_generalise(tmp_path: Path) -> None:
    batch = torch.export.Dim("batch", min=1, max=64)
    graph = Graph("model", _BatchBaked(), (torch.ones(2, 3),), ["x"], ["y"], ({0: batch},), {"class": "BatchBaked"})
    with pytest.raises(zoo.UserError, match="BatchBaked does not trace to TorchScript.*onnx or exported_program"):
        write_torchscript(graph, tmp_path / "m.pt")
    assert not (tmp_path / "m.pt").exists()


# -- the command line -----------------------------------------------------------------------------
def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zoo", "export", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)  # fmt: skip


def test_cli_exports_a_pretrained_directory_and_a_checkpoint(tmp_path: Path) -> None:
    import onnxruntime  # noqa: F401  # the export extra

    from zoo.exporting import runtime

    model = _lenet()
    trainer = Trainer(**trainer_kwargs(tmp_path, max_steps=1))
    trainer.fit(model, ExampleDataModule(model))
    model.data_card = _lenet().data_card  # the example data module has no card
    trainer.save_checkpoint(tmp_path / "lenet.ckpt")
    model.save_pretrained(tmp_path / "pretrained")
    images = torch.randint(0, 256, (2, 1, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        want = model.eval().predict_step(normalize_images(images, [0.4], [0.2]))["probs"].numpy()
    for source, out in [("pretrained", "dir.onnx"), ("lenet.ckpt", "ckpt.onnx")]:
        done = _cli(str(tmp_path / source), "--output", str(tmp_path / out))
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == str(tmp_path / out)
        got = runtime.run(runtime.session(tmp_path / out), images=images.numpy())["probabilities"]
        np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no/such/dir"], "no/such/dir is neither a file, a directory, nor a registered model name"),
        (["lenet5"], "lenet5 is a registered model without official weights"),
    ],
)
def test_cli_bad_source_exits_2_with_a_message(args: list[str], message: str, tmp_path: Path) -> None:
    done = _cli(*args, "--output", str(tmp_path / "m.onnx"))
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
