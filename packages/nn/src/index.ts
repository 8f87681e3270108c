export { ParamStore, type Param, type Conv, type Dense, type Norm } from './param-store.js';
export { torchShape, toTorchLayout, fromTorchLayout, type Layout } from './layout.js';
export { paramsToSafeTensors, assignFromSafeTensors } from './safetensors.js';
export { silu, SILU_KERNEL, SILU_GRAD_KERNEL, type SiluOptions } from './silu.js';
export { groupNorm, groupNormSilu, GROUP_NORM_KERNEL, GROUP_NORM_GRAD_KERNEL, GROUP_NORM_SILU_KERNEL, GROUP_NORM_SILU_GRAD_KERNEL, type GroupNormOptions } from './group-norm.js';
export { conv2d } from './conv2d.js';
export { linear } from './linear.js';
export { attention, type AttentionParams } from './attention.js';
export { fail, checkInt, describeValue, shapeText } from './checks.js';
