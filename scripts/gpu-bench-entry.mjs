// One entry point for the GPU machine (packed by gpu-pack, which bundles a single file):
//   bash .gpu/run.sh train [train-bench args]   |   bash .gpu/run.sh unet [unet-bench args]
//   bash .gpu/run.sh convs [backend batch reps tilings]  (the conv forms and GEMM tilings, packages/backend/bench)
//   bash .gpu/run.sh sample [sample-bench args]  (sampling, packages/train/bench)
// MTD_CPU_PROFILE=FILE writes a V8 CPU profile of the run to FILE (Node refuses --cpu-prof in
// NODE_OPTIONS, and the packed run.sh passes no Node flags).
import { renameSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const [which, ...rest] = process.argv.slice(2);
process.argv = [process.argv[0], process.argv[1], ...rest];
const profileFile = process.env.MTD_CPU_PROFILE;
if (profileFile) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.start');
  const exit = process.exit.bind(process);
  process.exit = (code) => {
    session.post('Profiler.stop', (err, result) => {
      if (!err) {
        // Temp file, then rename: a killed run leaves no half-written profile.
        writeFileSync(`${profileFile}.tmp`, JSON.stringify(result.profile));
        renameSync(`${profileFile}.tmp`, profileFile);
      }
      exit(code);
    });
  };
}
if (which === 'train') await import('../packages/train/bench/train-bench.mjs');
else if (which === 'unet') await import('../packages/unet/bench/unet-bench.mjs');
else if (which === 'convs') await import('../packages/backend/bench/convGrads.ts');
else if (which === 'sample') await import('../packages/train/bench/sample-bench.mjs');
else {
  console.error(`gpu-bench-entry: first argument must be 'train', 'unet', 'convs' or 'sample', got ${which}`);
  process.exit(2);
}
