export type { Head, HeadContext, HeadKind, TapName } from './head.js';
export { outputBlockHead, OutputBlockHead, type OutputBlockHeadOptions } from './output-block-head.js';
export { middleMlpHead, MiddleMlpHead, type MiddleMlpHeadOptions } from './middle-mlp-head.js';
export { classifierHead, ClassifierHead, type ClassifierHeadOptions } from './classifier-head.js';
