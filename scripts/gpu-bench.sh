#!/usr/bin/env bash
# Issue 7's measurements on a lent GPU machine, in one device call (the machine has no Node.js:
# the benches travel packed by gpu-pack). Here, once per change:
#   pnpm build && bash scripts/gpu-pack-bench.sh
# then on the device, from the repository root:  bash scripts/gpu-bench.sh  (carry .gpu)
# Prints, in order: the card, the PyTorch twin, the conv-gradient forms per refUNet layer, the
# Trainer step on webgpu at B = 64 and 256 with a per-kernel GPU-time profile, a CPU profile of the
# B = 64 step, and refUNet's plain training step and forward (sampling) throughput. The baseline
# (tfjs's own kernels): add `train ... --baseline`. Logs go to $OUT when set.
set -u
LOG=${OUT:-/tmp/gpu-bench}; mkdir -p "$LOG"
quiet() { grep -v -e '^Warning: maxDynamic' -e 'artificially reduced'; }
part() { # part NAME SECONDS COMMAND...: one measurement, never longer than SECONDS
  local name=$1 limit=$2; shift 2
  echo "== $name"
  local t0=$SECONDS
  timeout "$limit" "$@" 2>&1 | quiet | tee "$LOG/$name.log"
  echo "   ($((SECONDS - t0)) s)"
}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,memory.used --format=csv 2>&1 | tee "$LOG/card.log"
part torch 80 python3 .gpu/torch_unet.py
part convs-64 60 bash .gpu/run.sh convs webgpu 64 20
part convs-256 80 bash .gpu/run.sh convs webgpu 256 5
part train-64 90 bash .gpu/run.sh train --backends webgpu --configs ref-unet --batch 64 --steps 10 --profile --kernels
part train-256 120 bash .gpu/run.sh train --backends webgpu --configs ref-unet --batch 256 --steps 5 --profile
# Where the CPU time of a step goes (the step is dispatch-bound at B = 64): a V8 profile to $OUT.
MTD_CPU_PROFILE=$LOG/train-64.cpuprofile part train-64-cpuprof 60 bash .gpu/run.sh train --backends webgpu --configs ref-unet --batch 64 --steps 5
part unet 100 bash .gpu/run.sh unet --backend webgpu --batches 64,256 --steps 3
