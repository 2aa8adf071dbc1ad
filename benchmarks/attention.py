"""Our attention (``F.scaled_dot_product_attention``) against the curriculum's naive formula, inside a GPT.

    python benchmarks/attention.py                   # CPU: prints the ratios at T = 256, 1024, 4096
    python benchmarks/attention.py --device cuda     # one GPU: bf16 autocast, fused AdamW, checks the goals
    python benchmarks/attention.py --seq-lens 256 1024 --steps 2

The model is the zoo's GPT (6 layers, 6 heads, 384 wide, 65-character vocabulary, no dropout) in
training: forward, backward and an AdamW step on random tokens. The only difference between the
two runs is the attention kernel: ``naive`` replaces SDPA by softmax(QKᵀ/√d + causal mask)·V
written out, which materialises the (T × T) score matrix of every head; SDPA's flash /
memory-efficient kernels never do. Each measurement runs in a fresh process; batch sizes keep the
tokens per step equal across T. Reported: training tokens per second and peak memory (GPU: the
allocator's peak; CPU: the growth of the process's peak resident memory) above the weights and
optimizer state: activations, attention scores and gradients.

Anchor, one H200 (bf16): SDPA 1.11× / 2.35× / 5.9× the tokens/s of the naive formula and 0.69× /
0.31× / 0.10× its memory at T = 256 / 1024 / 4096. Goal on a GPU: ≥ 2× the speed and ≤ 0.4× the
memory at T = 1024.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from record import Table, write_result  # noqa: E402  (benchmarks/record.py, beside this script)

ANCHOR = {256: (1.11, 0.69), 1024: (2.35, 0.31), 4096: (5.9, 0.10)}  # H200: speed ×, memory ×


def naive_attention(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):  # noqa: ANN001, ANN201
    """softmax(QKᵀ/√d + mask)·V as the textbook writes it (SDPA's signature, so it can stand in for it)."""
    import torch

    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, heads, T, S): the memory SDPA saves
    t, s = scores.shape[-2:]
    if is_causal:
        attn_mask = torch.ones(t, s, dtype=torch.bool, device=q.device).tril(s - t)
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, float("-inf")) if attn_mask.dtype == torch.bool else scores + attn_mask
    weights = scores.softmax(-1)
    if dropout_p:
        weights = torch.nn.functional.dropout(weights, dropout_p)
    return weights @ v


def _rss_peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def worker(impl: str, seq_len: int, batch: int, warmup: int, steps: int, device: str, threads: int | None) -> dict:
    """One measurement, in this (fresh) process."""
    import torch

    from zoo.layers import attention
    from zoo.text.gpt import GPT

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    cuda = device == "cuda"
    model = GPT(dim=384, depth=6, num_heads=6, dropout=0.0, vocab_size=65, max_seq_len=seq_len).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=cuda or None)
    data = torch.randint(0, 65, (batch, seq_len + 1), device=device)
    x, y = data[:, :-1], data[:, 1:]

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        with torch.autocast(device, dtype=torch.bfloat16, enabled=cuda):
            loss = torch.nn.functional.cross_entropy(model(x).float().flatten(0, 1), y.flatten())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    patch = mock.patch.object(attention.F, "scaled_dot_product_attention", naive_attention)
    with patch if impl == "naive" else mock.patch.object(attention, "__name__", attention.__name__):
        step(x[:1, :8], y[:1, :8])  # a tiny step allocates the optimizer state: the baseline holds it
        sync()
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated() if cuda else _rss_peak_bytes()
        for _ in range(warmup):  # kernels chosen, allocator warm (their peak counts: same shapes)
            step(x, y)
        sync()
        start = time.perf_counter()
        for _ in range(steps):
            step(x, y)
        sync()
        elapsed = time.perf_counter() - start
        peak = torch.cuda.max_memory_allocated() if cuda else _rss_peak_bytes()
    return {"tokens_per_s": batch * seq_len * steps / elapsed, "peak_bytes": max(peak - base, 1), "batch": batch}


def measure(impl: str, seq_len: int, args: argparse.Namespace) -> dict:
    batch = max(1, args.tokens // seq_len)
    cmd = [sys.executable, __file__, "--worker", impl, str(seq_len), str(batch), "--device", args.device,
           "--warmup", str(args.warmup), "--steps", str(args.steps)]  # fmt: skip
    cmd += ["--threads", str(args.threads)] if args.threads else []
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"error": " / ".join(tail) or f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--seq-lens", type=int, nargs="+", default=[256, 1024, 4096])
    parser.add_argument("--tokens", type=int, default=None, help="tokens per step (default: GPU 16384, CPU 4096)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps (default: GPU 3, CPU 1)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default: GPU 10, CPU 2)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    parser.add_argument("--no-record", action="store_true", help="leave benchmarks/results/ alone")
    parser.add_argument("--worker", nargs=3, metavar=("IMPL", "T", "BATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    gpu = args.device == "cuda"
    args.tokens = args.tokens or (16384 if gpu else 4096)
    args.warmup = args.warmup or (3 if gpu else 1)
    args.steps = args.steps or (10 if gpu else 2)
    if args.worker:
        impl, seq_len, batch = args.worker[0], int(args.worker[1]), int(args.worker[2])
        print(json.dumps(worker(impl, seq_len, batch, args.warmup, args.steps, args.device, args.threads)))
        return

    print(f"GPT 6 layers × 384 wide, training, {args.tokens} tokens/step, device {args.device}"
          f"{' (bf16 autocast)' if gpu else ' (float32)'}, {args.steps} timed steps after {args.warmup}")  # fmt: skip
    header = f"{'T':>6} {'batch':>5} | {'naive tok/s':>11} {'sdpa tok/s':>11} {'speed ×':>8} | " \
             f"{'naive MiB':>10} {'sdpa MiB':>10} {'memory ×':>9} | {'H200 anchor':>14}"  # fmt: skip
    print(header + "\n" + "-" * len(header))
    results, rows = {}, []
    for seq_len in args.seq_lens:
        naive, sdpa = measure("naive", seq_len, args), measure("sdpa", seq_len, args)
        anchor = ANCHOR.get(seq_len)
        anchor_txt = f"{anchor[0]:.2f}× / {anchor[1]:.2f}×" if anchor else "-"
        if "error" in naive or "error" in sdpa:
            print(f"{seq_len:6d} failed: naive {naive.get('error', 'ok')}; sdpa {sdpa.get('error', 'ok')}")
            continue
        speed, memory = sdpa["tokens_per_s"] / naive["tokens_per_s"], sdpa["peak_bytes"] / naive["peak_bytes"]
        results[seq_len] = (speed, memory)
        print(f"{seq_len:6d} {sdpa['batch']:5d} | {naive['tokens_per_s']:11.0f} {sdpa['tokens_per_s']:11.0f} "
              f"{speed:7.2f}× | {naive['peak_bytes'] / 2**20:10.0f} {sdpa['peak_bytes'] / 2**20:10.0f} "
              f"{memory:8.2f}× | {anchor_txt:>14}", flush=True)  # fmt: skip
        rows.append([f"{seq_len:,}", f"{naive['tokens_per_s']:,.0f}", f"{sdpa['tokens_per_s']:,.0f}", f"{speed:.2f}×",
                     f"{naive['peak_bytes'] / 2**20:,.0f}", f"{sdpa['peak_bytes'] / 2**20:,.0f}", f"{memory:.2f}×",
                     anchor_txt])  # fmt: skip
    if gpu and 1024 in results:
        speed, memory = results[1024]
        verdict = "met" if speed >= 2.0 and memory <= 0.4 else "NOT met"
        print(f"\ngoal at T=1024 (≥ 2× speed, ≤ 0.4× memory): {verdict} ({speed:.2f}×, {memory:.2f}×)")
    if rows and not args.no_record:  # one table per device: a GPU run keeps the CPU table
        columns = ["T", "naive tok/s", "SDPA tok/s", "speed", "naive MiB", "SDPA MiB", "memory",
                   "H200 anchor (speed / memory)"]  # fmt: skip
        title = (f"GPT 6 × 384 training, {args.tokens:,} tokens per step, "
                 f"{'bf16 autocast' if gpu else 'float32'}, {args.device}: SDPA vs the naive formula")
        write_result("attention", [Table(args.device, title, columns, rows)], keep_other_tables=True)


if __name__ == "__main__":
    main()
