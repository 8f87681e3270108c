export { createRng, restoreRng, type Rng, type RngState } from './rng.js';
export { threefry2x32, THREEFRY_ROTATIONS, THREEFRY_PARITY } from './threefry.js';
export { counterNormals } from './counter-normals.js';
