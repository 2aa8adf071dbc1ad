#!/usr/bin/env bash
# The GPU figures of the vision and transformer issues in one short run (a few minutes on one H200):
#   throughput of the zoo's ResNet-18 vs torchvision's (channels_last + bf16; bar: ratio >= 0.95),
#   SDPA vs naive attention at T = 256/1024/4096 (goal at 1024: >= 2x speed, <= 0.4x memory),
#   nanoGPT's Shakespeare recipe through train.py (goal: best val <= 1.47, best checkpoint kept).
#
#   bash benchmarks/gpu_checks.sh [results folder]      # default: $OUT, else runs/gpu_checks
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-${OUT:-runs/gpu_checks}}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$out/gpu.txt"
python benchmarks/vision_throughput.py --device cuda 2>&1 | tee "$out/throughput.txt"
python benchmarks/attention.py --device cuda 2>&1 | tee "$out/attention.txt"
python benchmarks/gpt_shakespeare.py --gpu --out /tmp/gpt_shakespeare 2>&1 | tee "$out/gpt_shakespeare.txt"
# each script also wrote its figures to benchmarks/results/*.json (a cuda table beside the CPU one):
# bring them back with the logs, to commit them and let the documentation show them
mkdir -p "$out/results"
cp benchmarks/results/vision_throughput.json benchmarks/results/attention.json \
   benchmarks/results/gpt_shakespeare.json "$out/results/"
