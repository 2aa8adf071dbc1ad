#!/usr/bin/env bash
# The GPU figures of the vision and transformer issues in one short run (a few minutes on one H200):
#   throughput of the zoo's ResNet-18 vs torchvision's (channels_last + bf16; bar: ratio >= 0.95),
#   SDPA vs naive attention at T = 256/1024/4096 (goal at 1024: >= 2x speed, <= 0.4x memory),
#   nanoGPT's Shakespeare recipe through train.py (goal: best val <= 1.47, best checkpoint kept),
#   scale (issue 11): short fits in 16-mixed (gradient scaler) and bf16-mixed, a compiled fit, FSDP fits
#   (configs/trainer/fsdp.yaml, one GPU), peak memory with and without activation checkpointing.
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

# scale: mixed precision (16-mixed reports the steps its gradient scaler skipped), compile, FSDP, memory
gpu=(--trainer.accelerator=gpu --trainer.devices=1 --trainer.enable_progress_bar=false --test_after_fit=false
     --trainer.limit_val_batches=2 --trainer.default_root_dir=/tmp/gpu_checks_scale)
short=(--trainer.max_steps=50 "${gpu[@]}")
python -m pytest tests/test_mixed_precision.py -m gpu -q 2>&1 | tee "$out/precision.txt"
for precision in 16-mixed bf16-mixed; do
  python train.py fit --config configs/quickstart.yaml --trainer.precision=$precision "${short[@]}" 2>&1 \
    | tail -n 25 | tee -a "$out/precision.txt"
  python train.py fit --config configs/text/gpt_nano.yaml --trainer.precision=$precision "${short[@]}" 2>&1 \
    | tail -n 25 | tee -a "$out/precision.txt"
done
python train.py fit --config configs/vision/resnet18_small.yaml --model.compile=true --model.compile_mode=max-autotune \
  "${short[@]}" 2>&1 | tail -n 25 | tee "$out/compile.txt"
for recipe in configs/text/gpt_nano.yaml configs/text/t5_mini.yaml configs/text/bert_pretrain.yaml; do
  python train.py fit --config $recipe --config configs/trainer/fsdp.yaml --trainer.max_steps=30 "${gpu[@]}" 2>&1 \
    | tail -n 25 | tee -a "$out/fsdp.txt"
done
python benchmarks/memory.py --device cuda --models vit_b16 bert_base_mlm t5_small resnet50 vgg16_bn densenet121 \
  efficientnet_b0 mobilenet_v2 2>&1 | tee "$out/memory.txt"
python benchmarks/memory.py --device cuda --models gpt2 --batch-size 8 2>&1 | tee -a "$out/memory.txt"  # 1,024 tokens
rm -rf /tmp/gpu_checks_scale
# each script also wrote its figures to benchmarks/results/*.json (a cuda table beside the CPU one):
# bring them back with the logs, to commit them and let the documentation show them
mkdir -p "$out/results"
cp benchmarks/results/vision_throughput.json benchmarks/results/attention.json \
   benchmarks/results/gpt_shakespeare.json "$out/results/"
