// One entry point for the GPU machine (packed by gpu-pack, which bundles a single file):
//   bash .gpu/run.sh train [train-bench args]   |   bash .gpu/run.sh unet [unet-bench args]
const [which, ...rest] = process.argv.slice(2);
process.argv = [process.argv[0], process.argv[1], ...rest];
if (which === 'train') await import('../packages/train/bench/train-bench.mjs');
else if (which === 'unet') await import('../packages/unet/bench/unet-bench.mjs');
else {
  console.error(`gpu-bench-entry: first argument must be 'train' or 'unet', got ${which}`);
  process.exit(2);
}
