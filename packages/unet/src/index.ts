export { createUNet, unetFromSafetensors, UNet, CONFIG_METADATA_KEY } from './unet.js';
export type { CreateUNetOptions, UNetForwardInput, UNetOutput, UNetTaps } from './unet.js';
export { refUNet, resolveConfig, type UNetConfig, type ResolvedUNetConfig } from './config.js';
export { torchShape, type Layout } from '@mtd/nn';
