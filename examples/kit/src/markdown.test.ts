import { describe, expect, it } from 'vitest';
import { machineDescription, markdownTable } from './markdown.js';

describe('markdownTable', () => {
  it('writes a header, a rule and one row per entry, escaping pipes', () => {
    expect(markdownTable(['a', 'b'], [[1, 'x|y'], ['2', 3]])).toBe('| a | b |\n|---|---|\n| 1 | x\\|y |\n| 2 | 3 |\n');
  });
  it('names a row of the wrong width', () => {
    expect(() => markdownTable(['a', 'b'], [[1]])).toThrow(/markdownTable: rows\[0\] must have 2 cells, got 1/);
    expect(() => markdownTable([], [])).toThrow(/header must hold at least one column/);
  });
});

describe('machineDescription', () => {
  it('names the core count and the Node version', () => {
    const d = machineDescription();
    expect(d).toContain(`Node ${process.version}`);
    expect(d).toMatch(/, \d+ cores, /);
  });
});
