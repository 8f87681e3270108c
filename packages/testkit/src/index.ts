export { expectClose, maxAbsDiff, maxRelDiff, type CloseOptions } from './close.js';
export { expectNoLeak } from './leak.js';
