import { describe, expect, it } from 'vitest';
import { Described } from './describe.js';
import { rangeFail, typeFail } from './fail.js';

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

describe('rangeFail', () => {
  it('throws a RangeError of the form `where: arg must be <expected>, got <value>`', () => {
    const e = thrown(() => rangeFail('linearSchedule', 'T', 'an integer >= 1', 0));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toBe('linearSchedule: T must be an integer >= 1, got 0');
  });

  it('describes the value it got', () => {
    expect(thrown(() => rangeFail('f', 'x.shape', '[2, 3]', new Described('[2, 4]'))).message).toBe(
      'f: x.shape must be [2, 3], got [2, 4]',
    );
    expect(thrown(() => rangeFail('f', 'name', "one of 'a', 'b'", 'c')).message).toBe(
      'f: name must be one of \'a\', \'b\', got "c"',
    );
  });
});

describe('typeFail', () => {
  it('throws a TypeError of the same form', () => {
    const e = thrown(() => typeFail('sample', 'model', 'a function', undefined));
    expect(e).toBeInstanceOf(TypeError);
    expect(e).not.toBeInstanceOf(RangeError);
    expect(e.message).toBe('sample: model must be a function, got undefined');
  });

  it('describes a tensor-like value by dtype and shape', () => {
    expect(thrown(() => typeFail('f', 'z', 'a float32 tensor', { dtype: 'int32', shape: [2] })).message).toBe(
      'f: z must be a float32 tensor, got a int32 tensor of shape [2]',
    );
  });
});
