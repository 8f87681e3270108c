import { describe, expect, it } from 'vitest';
import { parseAndRun, type ExamplePreset } from './command.js';

interface Cfg extends ExamplePreset {
  size: number;
}
const presets: Record<string, Cfg> = { cpu: { preset: 'cpu', seed: 0, train: { steps: 10 }, size: 4 }, tiny: { preset: 'tiny', seed: 0, train: { steps: 1 }, size: 2 } };

describe('parseAndRun', () => {
  it('runs the chosen preset (a copy) with --seed/--steps/--out applied and the selected backend', async () => {
    const got: unknown[] = [];
    const code = await parseAndRun({
      usage: 'u',
      presets,
      defaultOut: 'out/x',
      argv: ['--', '--preset', 'tiny', '--seed', '4', '--steps', '7', '--backend', 'cpu'],
      run: async (a) => {
        got.push(a);
        return 3;
      },
    });
    expect(code).toBe(3);
    expect(got).toEqual([{ config: { preset: 'tiny', seed: 4, train: { steps: 7 }, size: 2 }, out: 'out/x', backend: 'cpu' }]);
    expect(presets['tiny']!.seed).toBe(0);
  });
  it('names bad arguments', async () => {
    const run = async () => 0;
    await expect(parseAndRun({ usage: 'u', presets, defaultOut: 'o', argv: ['--preset', 'huge'], run })).rejects.toThrow('--preset must be one of cpu, tiny, got huge');
    await expect(parseAndRun({ usage: 'u', presets, defaultOut: 'o', argv: ['--seed=-1'], run })).rejects.toThrow('--seed must be an integer >= 0, got -1');
    await expect(parseAndRun({ usage: 'u', presets, defaultOut: 'o', argv: ['--steps', '0'], run })).rejects.toThrow('--steps must be an integer >= 1, got 0');
    await expect(parseAndRun({ usage: 'u', presets, defaultOut: 'o', argv: ['--backend', 'tpu'], run })).rejects.toThrow(/--backend must be one of .*, got tpu/);
  });
});
