export type {
  Dataset,
  ModalitySpec,
  ImageSpec,
  LabelSpec,
  SegmentationSpec,
  MaskSpec,
  ModalityExample,
  ImageExample,
  LabelExample,
  SegmentationExample,
  MaskExample,
} from './dataset.js';
export { subset } from './dataset.js';
export {
  readIdx,
  readIdxFile,
  encodeIdx,
  IDX_IMAGES_MAGIC,
  IDX_LABELS_MAGIC,
  type IdxArray,
  type IdxDtype,
  type IdxData,
  type ReadIdxOptions,
} from './idx.js';
export {
  fashionMnist,
  idxImageDataset,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DEFAULT_DIR,
  type FashionMnistOptions,
  type IdxImageDatasetOptions,
} from './fashion-mnist.js';
export { mnistDigits, type MnistDigitsOptions } from './mnist-digits.js';
export { pngFolder, type PngFolderOptions, type PngFolderDataset } from './png-folder.js';
export { resizeImage, rgbaTo, LUMA_WEIGHTS, type ResizeMethod } from './resize.js';
export {
  shapesScenes,
  dayNightPairs,
  nightFromDay,
  paintClassMap,
  SCENE_PALETTE,
  SCENE_SHAPES,
  MAX_SCENE_CLASSES,
  type SceneShape,
  type ShapesScenesOptions,
  type DayNightOptions,
  type NightOptions,
} from './scenes.js';
export {
  randomPatchMask,
  applyMask,
  withRandomMasks,
  defaultPatchSize,
  type RandomPatchMaskOptions,
  type WithRandomMasksOptions,
} from './mask.js';
export {
  batches,
  makeBatch,
  disposeBatch,
  epochLength,
  epochOrder,
  type Batch,
  type BatchOptions,
  type Scale,
} from './batches.js';
