import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { JsonlLog } from './log.js';
import { ProgressBar, formatDuration } from './progress.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mtd-log-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('JsonlLog', () => {
  test('appends one JSON object per line; truncateAfter drops later steps and a torn last line', async () => {
    const path = join(dir, 'sub', 'log.jsonl');
    const log = new JsonlLog(path);
    for (let step = 1; step <= 4; step++) await log.append({ step, loss: step / 10 });
    expect((await readFile(path, 'utf8')).split('\n')).toEqual([...[1, 2, 3, 4].map((s) => JSON.stringify({ step: s, loss: s / 10 })), '']);
    await writeFile(path, (await readFile(path, 'utf8')) + '{"step": 5, "lo');
    await log.truncateAfter(2);
    expect((await log.read()).map((r) => r['step'])).toEqual([1, 2]);
    await new JsonlLog(join(dir, 'none.jsonl')).truncateAfter(3); // no file: nothing to do
    expect(() => new JsonlLog('')).toThrow('JsonlLog: path must be a non-empty file path, got ""');
  });
});

describe('ProgressBar', () => {
  const clock = () => {
    let now = 0;
    return { now: () => now, advance: (ms: number) => (now += ms) };
  };

  test('plain lines (not a TTY): every k steps, the first and the last, with loss, img/s and ETA', () => {
    const lines: string[] = [];
    const c = clock();
    const bar = new ProgressBar({ total: 30, stream: { write: (s) => lines.push(s), isTTY: false }, every: 10, now: c.now });
    for (let step = 1; step <= 30; step++) {
      bar.update({ step, loss: 0.5, examples: 64 });
      c.advance(500);
    }
    expect(lines.map((l) => l.split(' ')[1])).toEqual(['1/30', '10/30', '20/30', '30/30']);
    // After the first step: 64 images per 0.5 s = 128 img/s; 20 steps left at 2 steps/s = 10 s.
    expect(lines[1]).toBe('step 10/30 33% loss 0.5000 128 img/s ETA 10s\n');
    expect(lines[3]).toMatch(/ETA 0s\n$/);
  });

  test('a bar redrawn in place on a TTY, closed with a newline at the end', () => {
    let out = '';
    const c = clock();
    const bar = new ProgressBar({ total: 2, stream: { write: (s) => (out += s), isTTY: true }, now: c.now });
    bar.update({ step: 1, loss: Number.NaN, examples: 8 });
    c.advance(1000);
    bar.update({ step: 2, loss: 0.25, examples: 8 });
    expect(out).toBe('\rstep 1/2 [------------] 50% loss NaN ? img/s ETA ?\x1b[K'.replace('------------', '#'.repeat(12) + '-'.repeat(12)) + '\rstep 2/2 [########################] 100% loss 0.2500 8.0 img/s ETA 0s\x1b[K\n');
  });

  test("'off' writes nothing; bad options are named", () => {
    let out = '';
    new ProgressBar({ total: 3, mode: 'off', stream: { write: (s) => (out += s) } }).update({ step: 1, loss: 1, examples: 1 });
    expect(out).toBe('');
    expect(() => new ProgressBar({ total: 3, mode: 'fancy' as never })).toThrow("ProgressBar: options.mode must be 'auto', 'bar', 'lines' or 'off', got \"fancy\"");
  });

  test('formatDuration', () => {
    expect(formatDuration(3725)).toBe('1h02m05s');
    expect(formatDuration(65)).toBe('1m05s');
    expect(formatDuration(4.2)).toBe('4s');
    expect(formatDuration(Number.NaN)).toBe('?');
  });
});
