import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { checkIndex, type Dataset, type ImageSpec, type LabelSpec } from './dataset.js';
import { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, readIdxFile } from './idx.js';

/** Where the Debian package `dataset-fashion-mnist` installs the four gzip IDX files. */
export const FASHION_MNIST_DEFAULT_DIR = '/usr/share/datasets/fashion-mnist';

/** Fashion-MNIST's class names, index = label. */
export const FASHION_MNIST_CLASSES: readonly string[] = Object.freeze([
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
]);

export interface IdxImageDatasetOptions {
  /** Path of the images file (IDX magic 2051, `[n, H, W]` unsigned bytes), gzip or plain. */
  imagesPath: string;
  /** Path of the labels file (IDX magic 2049, `[n]` unsigned bytes), gzip or plain. */
  labelsPath: string;
  name: string;
  numClasses: number;
  classNames?: readonly string[];
  /** Required `[H, W]`, e.g. `[28, 28]`; any size when left out. */
  imageSize?: readonly [number, number];
}

/**
 * An image + label dataset from a pair of IDX files (the MNIST file format). Images are kept as
 * one Uint8Array (60k Fashion-MNIST images = 47 MB); `get(i)` returns views into it.
 *
 * Modalities: `image` (uint8, `[H, W, 1]`) and `label`.
 */
export async function idxImageDataset(options: IdxImageDatasetOptions): Promise<Dataset> {
  const where = 'idxImageDataset';
  const { imagesPath, labelsPath, name, numClasses, classNames, imageSize } = options;
  const [images, labels] = await Promise.all([
    readIdxFile(imagesPath, { expectMagic: IDX_IMAGES_MAGIC }),
    readIdxFile(labelsPath, { expectMagic: IDX_LABELS_MAGIC }),
  ]);
  const [n, h, w] = images.dims as [number, number, number];
  if (imageSize !== undefined && (h !== imageSize[0] || w !== imageSize[1])) {
    throw new RangeError(
      `${where}: images in ${imagesPath} must be ${imageSize[0]}x${imageSize[1]}, got ${h}x${w}`,
    );
  }
  const count = labels.dims[0]!;
  if (count !== n) {
    throw new RangeError(
      `${where}: the image and label counts must match, got ${n} images in ${imagesPath} and ${count} labels in ${labelsPath}`,
    );
  }
  const labelData = labels.data as Uint8Array;
  for (let i = 0; i < count; i++) {
    if (labelData[i]! >= numClasses) {
      throw new RangeError(
        `${where}: labels in ${labelsPath} must be in 0..${numClasses - 1}, got ${labelData[i]} at index ${i}`,
      );
    }
  }
  const pixels = images.data as Uint8Array;
  const shape = Object.freeze([h, w, 1] as const);
  const imageSpec: ImageSpec = { kind: 'image', shape, dtype: 'uint8' };
  const labelSpec: LabelSpec =
    classNames === undefined ? { kind: 'label', numClasses } : { kind: 'label', numClasses, classNames };
  const stride = h * w;
  return {
    name,
    length: n,
    modalities: Object.freeze({ image: imageSpec, label: labelSpec }),
    get(i: number) {
      checkIndex(`${name}.get`, i, n);
      return {
        image: { kind: 'image', shape, data: pixels.subarray(i * stride, (i + 1) * stride) },
        label: { kind: 'label', numClasses, value: labelData[i]! },
      };
    },
  };
}

export interface FashionMnistOptions {
  split: 'train' | 'test';
  /**
   * Folder holding the four IDX files (gzip or plain). Defaults to the environment variable
   * `MTD_FASHION_MNIST_DIR`, then to where `apt-get install dataset-fashion-mnist` puts them.
   */
  dir?: string;
}

/** Picks `<base>.gz`, else the uncompressed `<base>`; undefined when neither exists. */
function findFile(dir: string, base: string): string | undefined {
  for (const candidate of [`${base}.gz`, base]) {
    const path = join(dir, candidate);
    if (existsSync(path)) return path;
  }
  return undefined;
}

/**
 * Fashion-MNIST (Zalando): 28x28 grey images of 10 clothing classes, 60,000 train and 10,000 test,
 * 6,000 / 1,000 per class. Modalities: `image` (uint8 `[28, 28, 1]`) and `label` (10 classes).
 */
export async function fashionMnist(options: FashionMnistOptions): Promise<Dataset> {
  const where = 'fashionMnist';
  const split = options?.split;
  if (split !== 'train' && split !== 'test') {
    throw new RangeError(`${where}: split must be 'train' or 'test', got ${String(split)}`);
  }
  const dir = options.dir ?? process.env['MTD_FASHION_MNIST_DIR'] ?? FASHION_MNIST_DEFAULT_DIR;
  const prefix = split === 'train' ? 'train' : 't10k';
  const imagesBase = `${prefix}-images-idx3-ubyte`;
  const labelsBase = `${prefix}-labels-idx1-ubyte`;
  const imagesPath = findFile(dir, imagesBase);
  const labelsPath = findFile(dir, labelsBase);
  if (imagesPath === undefined || labelsPath === undefined) {
    const missing = [imagesPath === undefined ? imagesBase : undefined, labelsPath === undefined ? labelsBase : undefined]
      .filter((m) => m !== undefined)
      .map((m) => `${m}.gz`);
    throw new Error(
      `${where}: Fashion-MNIST ${split} files not found in ${dir} (missing ${missing.join(', ')}). ` +
        `Install the Debian package dataset-fashion-mnist (apt-get install -y dataset-fashion-mnist), ` +
        `or pass dir (or set MTD_FASHION_MNIST_DIR) to a folder holding the IDX files.`,
    );
  }
  return idxImageDataset({
    imagesPath,
    labelsPath,
    name: `fashion-mnist/${split}`,
    numClasses: 10,
    classNames: FASHION_MNIST_CLASSES,
    imageSize: [28, 28],
  });
}
