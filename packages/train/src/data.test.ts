import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, test } from 'vitest';
import type { Dataset } from '@mtd/datasets';
import { expectNoLeak } from '@mtd/testkit';
import { datasetSource, generatorSource } from './data.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** 10 examples: a 2x2 grey image whose pixels all equal the index, and the label index % 3. */
const tinyDataset: Dataset = {
  name: 'tiny',
  length: 10,
  modalities: { image: { kind: 'image', shape: [2, 2, 1], dtype: 'uint8' }, label: { kind: 'label', numClasses: 3 } },
  get: (i) => ({
    image: { kind: 'image', shape: [2, 2, 1], data: new Uint8Array(4).fill(i) },
    label: { kind: 'label', numClasses: 3, value: i % 3 },
  }),
};

async function ids(source: ReturnType<typeof datasetSource>, n: number): Promise<number[][]> {
  const out: number[][] = [];
  for (let i = 0; i < n; i++) {
    const b = source.next();
    const z = await b.z0.data();
    out.push(Array.from({ length: b.z0.shape[0]! }, (_, j) => Math.round(((z[4 * j]! + 1) / 2) * 255)));
    tf.dispose([b.z0, ...Object.values(b.values)]);
  }
  return out;
}

describe('datasetSource', () => {
  test('seeded epochs without repeats inside an epoch; labels match the images; [-1, 1] scaling', async () => {
    const source = datasetSource(tinyDataset, { batchSize: 3, seed: 4, z0: 'image', modalities: { label: 'label' } });
    const b = source.next();
    expect(b.z0.shape).toEqual([3, 2, 2, 1]);
    expect(b.values['label']!.dtype).toBe('int32');
    const z = await b.z0.data();
    const labels = await b.values['label']!.data();
    for (let j = 0; j < 3; j++) expect(labels[j]).toBe(Math.round(((z[4 * j]! + 1) / 2) * 255) % 3);
    tf.dispose([b.z0, ...Object.values(b.values)]);
    const epoch = (await ids(source, 2)).flat();
    expect(new Set(epoch).size).toBe(6); // 3 batches of 3 per epoch, the 10th example dropped
  });

  test('restore continues exactly where an unbroken run would be, across an epoch boundary', async () => {
    const options = { batchSize: 4, seed: 9, z0: 'image', modalities: { label: 'label' } };
    const unbroken = await ids(datasetSource(tinyDataset, options), 7);
    const first = datasetSource(tinyDataset, options);
    await ids(first, 3);
    const state = JSON.parse(JSON.stringify(first.state())) as unknown;
    expect(state).toEqual({ kind: 'dataset', dataset: 'tiny', epoch: 1, batch: 1 });
    const resumed = datasetSource(tinyDataset, options);
    resumed.restore(state);
    expect(await ids(resumed, 4)).toEqual(unbroken.slice(3));
    expect(() => resumed.restore({ kind: 'dataset', dataset: 'other', epoch: 0, batch: 0 })).toThrow(
      'datasetSource.restore: state.dataset must be "tiny" (the dataset of this source), got "other"',
    );
  });

  test('bad options are named; batches leak nothing', async () => {
    expect(() => datasetSource(tinyDataset, { batchSize: 3, seed: 0, z0: 'img', modalities: {} })).toThrow(/must be keys of tiny \(image, label\), got "img"/);
    expect(() => datasetSource(tinyDataset, { batchSize: 11, seed: 0, z0: 'image', modalities: {} })).toThrow(/options.batchSize must be at most the dataset's 10 examples, got 11/);
    const source = datasetSource(tinyDataset, { batchSize: 2, seed: 0, z0: 'image', modalities: { label: 'label' } });
    await expectNoLeak(() => {
      const b = source.next();
      tf.dispose([b.z0, ...Object.values(b.values)]);
    });
  });
});

describe('generatorSource', () => {
  test('its position is the stream state: restore repeats the same draws', async () => {
    const make = () =>
      generatorSource({ batchSize: 2, seed: 3, draw: (rng, B) => ({ z0: tf.tensor2d(rng.fillNormal(new Float32Array(2 * B)), [B, 2]), values: {} }) });
    const a = make();
    a.next().z0.dispose();
    const state = a.state();
    const next = await a.next().z0.data();
    const b = make();
    b.restore(JSON.parse(JSON.stringify(state)));
    expect(Array.from(await b.next().z0.data())).toEqual(Array.from(next));
    expect(() => b.restore({ kind: 'dataset' })).toThrow(/generatorSource.restore: state must be a generator source state/);
    expect(() => generatorSource({ batchSize: 0, seed: 0, draw: () => ({ z0: tf.zeros([1]), values: {} }) })).toThrow('generatorSource: options.batchSize must be an integer >= 1, got 0');
  });
});
