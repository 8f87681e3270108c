import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileAtomic, writeJsonAtomic } from './atomic.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mtd-atomic-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('replaces the file whole and leaves no temp file', async () => {
    const path = join(dir, 'a.txt');
    await writeFile(path, 'old');
    await writeFileAtomic(path, 'new contents');
    expect(await readFile(path, 'utf8')).toBe('new contents');
    await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    expect(Array.from(await readFile(path))).toEqual([1, 2, 3]);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('on failure keeps what was there and removes its temp file', async () => {
    // The target is a non-empty directory, so the final rename fails after the temp file was written.
    const target = join(dir, 'occupied');
    await mkdir(target);
    await writeFile(join(target, 'keep'), 'x');
    await expect(writeFileAtomic(target, 'data')).rejects.toThrow();
    expect(await readFile(join(target, 'keep'), 'utf8')).toBe('x');
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('creates missing parent folders; writes JSON', async () => {
    const path = join(dir, 'deep', 'er', 'c.json');
    await writeJsonAtomic(path, { a: 1 });
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ a: 1 });
  });

  it('rejects bad arguments', async () => {
    await expect(writeFileAtomic('', 'x')).rejects.toThrow(/path must be a non-empty string/);
    await expect(writeFileAtomic(join(dir, 'x'), 5 as never)).rejects.toThrow(/data must be a string or a Uint8Array/);
    await expect(writeJsonAtomic(join(dir, 'y'), undefined)).rejects.toThrow(/JSON-serialisable/);
  });
});
