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
export { dayNightPairs } from './scenes.js';
