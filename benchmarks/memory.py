"""Peak memory of one training step per recipe, at the recipe's batch size, with and without activation
checkpointing (``--model.activation_checkpointing``), side by side from one run.

A step is the forward pass, the loss and the backward pass (``training_step`` + ``backward``); the figure is
the peak of the memory it allocates above what was held before it (the weights and the batch), so the
weights, the optimizer state and the framework do not dilute the ratio. Each configuration runs one
warm-up step, then the measured one. Language models get batches of
their full context (``max_seq_len``); the other models their ``example_batch`` at the recipe's batch size
(images at the model's ``image_size``).

- ``--device cpu``: the bytes the C allocator has handed out (glibc ``mallinfo2``), sampled after every
  operator (a ``TorchDispatchMode``), on one thread (so every allocation is in the main arena);
- ``--device cuda``: ``torch.cuda.max_memory_allocated``.

    python benchmarks/memory.py                                   # the small recipes, on the CPU
    python benchmarks/memory.py --models vgg11_small --no-record  # some, leaving benchmarks/results/ alone
    python benchmarks/memory.py --device cuda --models vit_b16 gpt2 bert_base_mlm t5_small resnet50 vgg16_bn densenet121
"""

from __future__ import annotations

import argparse
import ctypes
import sys
from pathlib import Path
from typing import Any

import torch
import yaml
from lightning.fabric.utilities.apply_func import move_data_to_device
from torch.utils._python_dispatch import TorchDispatchMode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from record import Table, write_result  # noqa: E402  (benchmarks/record.py, beside this script)

SMALL = ["resnet18_small", "vgg11_small", "densenet_bc40_k12", "efficientnet_b0_cifar", "mobilenet_v1_050_cifar",
         "vit_tiny_patch4_32", "gpt_nano", "gpt_micro", "t5_tiny", "bert_tiny_mlm"]  # fmt: skip


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]  # fmt: skip


def _heap_bytes() -> int:
    """Bytes in use from malloc: the main arena's allocated chunks plus the mmapped ones."""
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    return info.uordblks + info.hblkhd


class _HeapPeak(TorchDispatchMode):
    """The largest heap in use after any operator run inside it."""

    def __enter__(self) -> _HeapPeak:
        self.peak = _heap_bytes()
        return super().__enter__()

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        self.peak = max(self.peak, _heap_bytes())
        return out


def recipe_batch_size(name: str) -> int:
    """The batch size of the model's recipe (``data.init_args.batch_size``), 32 when it sets none."""
    from zoo.registry import get_card

    config = yaml.safe_load((ROOT / get_card(name).config).read_text())
    return int(config.get("data", {}).get("init_args", {}).get("batch_size", 32))


def full_context_batch(model: Any, batch_size: int) -> Any:
    """A batch at the language model's whole context; other models' ``example_batch``."""
    from zoo.tasks.language import CausalLM, MaskedLM

    if isinstance(model, CausalLM):
        chunk = torch.randint(0, model.vocab_size, (batch_size, model.max_seq_len + 1))
        return chunk[:, :-1], chunk[:, 1:]
    if isinstance(model, MaskedLM):
        ids = torch.randint(0, model.vocab_size, (batch_size, model.max_seq_len))
        labels = torch.where(torch.rand(ids.shape) < 0.15, ids, torch.full_like(ids, -100))
        return ids, labels
    return model.example_batch(batch_size)


def step_peak(model: Any, batch: Any, device: str) -> int:
    """The peak bytes of one training step above the memory held before it."""
    model.zero_grad(set_to_none=True)
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        model.training_step(batch, 0).backward()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - before
    before = _heap_bytes()
    with _HeapPeak() as peak:
        model.training_step(batch, 0).backward()
    return peak.peak - before


def measure(name: str, checkpointing: bool, batch_size: int, device: str) -> int:
    import zoo

    torch.manual_seed(0)
    model = zoo.create_model(name, activation_checkpointing=checkpointing).to(device)
    model.configure_model()
    model.train()
    batch = move_data_to_device(full_context_batch(model, batch_size), device)
    step_peak(model, batch, device)  # warm-up: lazily built state, allocator caches
    result = step_peak(model, batch, device)
    del model, batch
    if device == "cuda":
        torch.cuda.empty_cache()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--models", nargs="+", default=SMALL, help="registry names (their recipes' batch sizes)")
    parser.add_argument("--batch-size", type=int, default=None, help="instead of each recipe's")
    parser.add_argument("--no-record", action="store_true", help="leave benchmarks/results/ alone")
    args = parser.parse_args()
    if args.device == "cpu":
        torch.set_num_threads(1)  # every allocation in the main arena, which mallinfo2 reports
    import warnings

    warnings.filterwarnings("ignore", message=".*self.log.*")  # steps without a Trainer do not log

    from zoo.registry import get_card

    title = f"peak memory of one training step (forward + loss + backward), {args.device}, float32"
    columns = ["model", "recipe", "batch", "MiB", "MiB, checkpointed", "ratio"]
    print(title)
    header = f"{columns[0]:<24} {columns[1]:<44} {columns[2]:>5} {'MiB':>9} {'checkpointed':>12} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    rows = []
    for name in args.models:
        batch_size = args.batch_size or recipe_batch_size(name)
        plain, ckpt = (measure(name, c, batch_size, args.device) / 2**20 for c in (False, True))
        recipe = get_card(name).config
        print(f"{name:<24} {recipe:<44} {batch_size:>5} {plain:>9.1f} {ckpt:>12.1f} {ckpt / plain:>5.2f}x", flush=True)
        rows.append([name, f"`{Path(recipe).name}`", batch_size, f"{plain:,.1f}", f"{ckpt:,.1f}",
                     f"{ckpt / plain:.2f}×"])
    print("ratio: with activation checkpointing / without")
    if rows and not args.no_record:  # one table per device: a GPU run keeps the CPU table
        write_result("memory", [Table(args.device, title, columns, rows, model_column=0)], keep_other_tables=True)

if __name__ == "__main__":
    main()
