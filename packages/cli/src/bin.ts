#!/usr/bin/env node
import { runCli } from './run.js';

// Explicit exit: a live WebGPU device (navigator.gpu) would otherwise keep Node running.
runCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`mtd: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
