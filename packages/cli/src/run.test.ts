import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './run.js';
import { formatTable } from './table.js';

function capture() {
  const lines: string[] = [];
  return { lines, log: (l: string) => lines.push(l) };
}

describe('runCli', () => {
  it('runs the demo and writes its JSON report atomically', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mtd-cli-'));
    try {
      const out = capture();
      const path = join(dir, 'report.json');
      expect(await runCli(['demo', '--T', '40', '--samples', '20', '--seed', '2', '--out', path], out.log)).toBe(0);
      expect(out.lines.join('\n')).toMatch(/cosine schedule, T = 40, seed 2/);
      const json = JSON.parse(await readFile(path, 'utf8'));
      expect(json.T).toBe(40);
      expect(json.rows).toHaveLength(5);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('answers usage errors with exit code 2 and the usage text', async () => {
    const out = capture();
    expect(await runCli(['fly'], out.log)).toBe(2);
    expect(out.lines.join('\n')).toMatch(/unknown command "fly"[\s\S]*usage: mtd/);
    expect(await runCli(['demo', '--bogus'], capture().log)).toBe(2);
    expect(await runCli([], capture().log)).toBe(2);
    expect(await runCli(['help'], capture().log)).toBe(0);
    await expect(runCli(['demo', '--T', 'ten'], capture().log)).rejects.toThrow(/--T must be an integer, got "ten"/);
    await expect(runCli(['demo', '--schedule', 'sigmoid'], capture().log)).rejects.toThrow(/--schedule must be linear or cosine/);
  });
});

describe('formatTable', () => {
  it('right-aligns columns under a rule', () => {
    expect(formatTable(['a', 'bb'], [['1', '2'], ['333', '4']])).toBe('  a  bb\n---  --\n  1   2\n333   4');
  });
});
