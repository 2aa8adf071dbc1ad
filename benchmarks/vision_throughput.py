"""Training throughput of the zoo's ResNet-18 (CIFAR stem) against torchvision's resnet18 given the
same stem, in the same plain loop (forward, cross-entropy, backward, SGD step) on random 32 px
batches. Same architecture, same FLOPs: the ratio should be about 1.0 (bar: >= 0.95).

On a GPU both run with channels_last memory and bf16 autocast (the zoo's configs/trainer/gpu.yaml
settings); on a CPU in float32. The two models alternate in rounds and the median of the rounds is
reported, so a noisy machine affects both alike.

    python benchmarks/vision_throughput.py                        # GPU if there is one
    python benchmarks/vision_throughput.py --device cpu --batch-size 32 --steps 5 --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from record import Table, merged_rows, write_result  # noqa: E402  (benchmarks/record.py, beside this script)


def zoo_resnet18() -> nn.Module:
    from zoo.vision.resnet import ResNetNet

    return ResNetNet(18, 3, 10, stem="cifar")


def torchvision_resnet18() -> nn.Module:
    import torchvision

    model = torchvision.models.resnet18(num_classes=10)
    model.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)  # the same CIFAR stem: 3×3/1, no pool
    model.maxpool = nn.Identity()
    return model


def images_per_second(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, warmup: int, bf16: bool
) -> float:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    device_type = x.device.type

    def step() -> None:
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(warmup):
        step()
    if device_type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device_type == "cuda":
        torch.cuda.synchronize()
    return steps * x.shape[0] / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=None, help="default: 256 on GPU, 32 on CPU")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per round (default: 50 GPU, 5 CPU)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps per round (default: 10 GPU, 1 CPU)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--no-record", action="store_true", help="leave benchmarks/results/ alone")
    args = parser.parse_args()
    gpu = args.device.startswith("cuda")
    batch = args.batch_size or (256 if gpu else 32)
    steps = args.steps or (50 if gpu else 5)
    warmup = args.warmup if args.warmup is not None else (10 if gpu else 1)
    torch.set_num_threads(args.threads)
    if gpu:
        torch.backends.cudnn.benchmark = True

    torch.manual_seed(0)
    device = torch.device(args.device)
    memory = torch.channels_last if gpu else torch.contiguous_format
    x = torch.randn(batch, 3, 32, 32, device=device).to(memory_format=memory)
    y = torch.randint(0, 10, (batch,), device=device)
    models = {"zoo ResNet-18 (cifar stem)": zoo_resnet18(), "torchvision resnet18 (same stem)": torchvision_resnet18()}
    counts = {name: sum(p.numel() for p in m.parameters()) for name, m in models.items()}
    models = {name: m.to(device, memory_format=memory).train() for name, m in models.items()}

    rates: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.rounds):  # alternate, so that load on a shared machine hits both alike
        for name, model in models.items():
            rates[name].append(images_per_second(model, x, y, steps, warmup, bf16=gpu))

    setting = f"{device.type}, batch {batch}, " + ("channels_last + bf16 autocast" if gpu else "float32")
    print(f"training throughput ({setting}; median of {args.rounds} rounds of {steps} steps)")
    medians = {name: statistics.median(r) for name, r in rates.items()}
    for name, rate in medians.items():
        print(f"  {name:<34} {counts[name]:>11,} params  {rate:>10.1f} images/s")
    ours, reference = medians.values()
    ratio = ours / reference
    print(f"  ratio zoo / torchvision: {ratio:.3f}  ({'ok' if ratio >= 0.95 else 'BELOW'} the 0.95 bar)")
    if not args.no_record:  # one row per setting: a GPU run joins the CPU row
        where = torch.cuda.get_device_name(device) if gpu else f"CPU ({args.threads} threads)"
        row = [f"{where}, {setting.split(', ', 1)[1]}, median of {args.rounds} rounds",
               f"{ours:.1f} images/s", f"{reference:.1f} images/s", f"{ratio:.3f}"]
        columns = ["setting", "zoo ResNet-18", "torchvision resnet18", "ratio"]
        title = "Training throughput, zoo ResNet-18 (CIFAR stem) vs torchvision resnet18"
        rows = merged_rows("vision_throughput", "throughput", [row], 0)
        table = Table("throughput", title, columns, rows, models=["resnet18_cifar"])
        write_result("vision_throughput", [table], kept_rows=True)


if __name__ == "__main__":
    main()
