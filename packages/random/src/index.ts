export { createRng, restoreRng, type Rng, type RngState } from './rng.js';
