#!/usr/bin/env bash
# Issue 7's measurements on a lent GPU machine, in one device call (the machine has no Node.js:
# the benches travel packed by gpu-pack). Here, once per change:
#   pnpm build && bash scripts/gpu-pack-bench.sh
# then on the device, from the repository root:  bash scripts/gpu-bench.sh  (carry .gpu)
# Prints, in order: the card, the PyTorch twin, the conv forms per refUNet layer, the Trainer
# step on webgpu at B = 64 and 256 (against tfjs's own kernels, with a larger submit size, with
# tfjs's kernels for what ours replace by default, with overlapped steps; then a per-kernel
# GPU-time profile), a CPU profile of the B = 64 step, and refUNet's plain training step and forward
# (sampling) throughput. About 4 min.
# Per-part logs go to /tmp/gpu-bench. PARTS="torch train-256 ..." runs only the parts named.
set -u
# One log of everything, and the CPU profile, to $OUT (few files come back from a device call).
LOG=/tmp/gpu-bench; mkdir -p "$LOG"
if [ -n "${OUT:-}" ]; then exec > >(tee "$OUT/gpu-bench.log") 2>&1; fi
quiet() { grep -v -e '^Warning: maxDynamic' -e 'artificially reduced'; }
part() { # part NAME SECONDS COMMAND...: one measurement, never longer than SECONDS
  local name=$1 limit=$2; shift 2
  if [ -n "${PARTS:-}" ] && [[ " $PARTS " != *" $name "* ]]; then return; fi
  echo "== $name"
  local t0=$SECONDS
  timeout "$limit" "$@" 2>&1 | quiet | tee "$LOG/$name.log"
  echo "   ($((SECONDS - t0)) s)"
}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,memory.used --format=csv 2>&1 | tee "$LOG/card.log"
part torch 80 python3 .gpu/torch_unet.py
# The twin's network sampling (50 DDPM steps, batch 256): the reference for sample-256.
part torch-sample 60 python3 scripts/torch-sample-twin.py .gpu/torch_unet.py
# Every conv form per refUNet layer, the WGSL GEMMs under each candidate tiling (a TFLOP/s table at the end).
# As the first WebGPU run on a fresh machine its first layer (32x32 64->64) can read several times
# too slow (bench/convGrads.ts): check that layer against a second run before trusting it.
part convs-256 150 bash .gpu/run.sh convs webgpu 256 10
T="bash .gpu/run.sh train --backends webgpu --configs ref-unet"
part train-64 60 $T --batch 64 --steps 30
part train-64-baseline 60 $T --batch 64 --steps 5 --baseline
part train-64-submit256 60 $T --batch 64 --steps 10 --tf-flag WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE=256
part train-256 60 $T --batch 256 --steps 20
# The same steps run through tfjs every time (no step graph): what the graph is measured against.
part train-64-graph-off 60 $T --batch 64 --steps 10 --step-graph off
part train-256-graph-off 60 $T --batch 256 --steps 5 --step-graph off
part record-64-graph 60 $T --batch 64 --steps 10 --record
part train-256-baseline 90 $T --batch 256 --steps 3 --baseline
part train-256-submit256 60 $T --batch 256 --steps 5 --tf-flag WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE=256
# The WGSL kernels against tfjs's (filter gradient, sums, GroupNorm, conv).
part train-64-tfjs-kernels 60 $T --batch 64 --steps 10 --filter-grad im2col --reductions tfjs --group-norm tfjs --conv tfjs --silu tfjs
part train-256-tfjs-kernels 60 $T --batch 256 --steps 5 --filter-grad im2col --reductions tfjs --group-norm tfjs --conv tfjs --silu tfjs
# The fused SiLU (default, not yet timed) against tfjs's ops.
part train-64-silu-tfjs 60 $T --batch 64 --steps 10 --silu tfjs
part train-256-silu-tfjs 60 $T --batch 256 --steps 5 --silu tfjs
# Host-drawn noise and tfjs's slice/concat programs for the optimizer's flatten (the defaults:
# noise drawn on the GPU, flatten and write-back as buffer copies).
part train-64-host-noise 60 $T --batch 64 --steps 10 --noise host
part train-256-host-noise 60 $T --batch 256 --steps 5 --noise host
part train-64-flat-programs 60 $T --batch 64 --steps 10 --flat-copies programs
part train-256-flat-programs 60 $T --batch 256 --steps 5 --flat-copies programs
# The host time to record a step, and where it goes (V8 samples while recording).
part record-256 60 $T --batch 256 --steps 5 --record
# Trainer.train's overlapSteps: replayed steps queued behind the one in flight (auto, the default)
# against one at a time (off); and steps run through tfjs overlapped (on), with tfjs's submit size and 256.
part train-64-no-overlap 60 $T --batch 64 --steps 30 --overlap off
part train-256-no-overlap 60 $T --batch 256 --steps 20 --overlap off
part train-64-overlap-graph-off 60 $T --batch 64 --steps 10 --overlap on --step-graph off
part train-256-overlap-graph-off 60 $T --batch 256 --steps 5 --overlap on --step-graph off
part train-64-overlap-graph-off-submit256 60 $T --batch 64 --steps 10 --overlap on --step-graph off --tf-flag WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE=256
part train-256-overlap-graph-off-submit256 60 $T --batch 256 --steps 5 --overlap on --step-graph off --tf-flag WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE=256
# The flat Adam and EMA as tfjs ops instead of one program each (MtdAdamUpdate, MtdEmaUpdate: default).
part train-64-optimizer-ops 60 $T --batch 64 --steps 10 --optimizer ops
# Long-K a^T b (dense weight gradients) by tfjs's matMul instead of the split-K GEMM (default).
part train-256-matmul-tfjs 60 $T --batch 256 --steps 5 --matmul tfjs
# GroupNorm + SiLU as one kernel and one gradient kernel (default) against GroupNorm then SiLU.
part train-64-gn-silu-separate 60 $T --batch 64 --steps 10 --gn-silu separate
part train-256-gn-silu-separate 60 $T --batch 256 --steps 5 --gn-silu separate
part sample-256-gn-silu-separate 90 bash .gpu/run.sh sample --batch 256 --steps 50 --gn-silu separate
# The step with other GEMM tilings (webgpu.gemmTiles; defaults conv 64x64/8x8/k16+p, inputGradient
# 128x64/8x4/k16+p, filterGradient 64x64/4x4/k16+p, which train-256 runs): the former default for
# all three; the input gradient in the conv's tiling (as before it had its own); a 128-row conv;
# then CONV_TILES / DX_TILES / DW_TILES (pick them from convs-256's table; unset: the defaults).
part train-256-tiles-old 60 $T --batch 256 --steps 20 --conv-tiles 64x64/4x4/k16 --dx-tiles 64x64/4x4/k16 --dw-tiles 64x64/4x4/k16
part train-256-tiles-a 60 $T --batch 256 --steps 5 --conv-tiles 128x64/8x4/k16+p --dx-tiles 128x64/8x4/k16+p --dw-tiles 64x64/8x8/k16+p
part train-256-tiles-b 60 $T --batch 256 --steps 5 --conv-tiles 64x64/8x8/k16+p --dx-tiles 64x64/8x8/k16+p --dw-tiles 64x64/4x4/k16+p
part train-256-tiles 60 $T --batch 256 --steps 5 --conv-tiles "${CONV_TILES:-64x64/8x8/k16+p}" --dx-tiles "${DX_TILES:-128x64/8x4/k16+p}" --dw-tiles "${DW_TILES:-64x64/4x4/k16+p}"
part profile-256-tiles 90 $T --batch 256 --steps 2 --profile --conv-tiles "${CONV_TILES:-64x64/8x8/k16+p}" --dx-tiles "${DX_TILES:-128x64/8x4/k16+p}" --dw-tiles "${DW_TILES:-64x64/4x4/k16+p}"
# GPU time per kernel (timestamps: one compute pass per kernel, so a little more than in a plain step).
part profile-64 60 $T --batch 64 --steps 2 --profile --kernels
part profile-256 90 $T --batch 256 --steps 2 --profile
# Where the CPU time of a step goes (the step is dispatch-bound at B = 64): a V8 profile to $OUT.
MTD_CPU_PROFILE=${OUT:-$LOG}/train-64.cpuprofile part train-64-cpuprof 60 $T --batch 64 --steps 5
part unet 100 bash .gpu/run.sh unet --backend webgpu --batches 64,256 --steps 3
# Sampling (50 ancestral DDPM steps at batch 256): noise drawn on the GPU (default) and on the host.
part sample-256 90 bash .gpu/run.sh sample --batch 256 --steps 50
part sample-256-host-noise 90 bash .gpu/run.sh sample --batch 256 --steps 50 --noise host
