import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { linearSchedule } from '@mtd/schedule';
import { planMoves, planTimesteps, type Move } from './plan.js';

/** RePaint's get_schedule_jump (Lugmayr et al. 2022), ported literally: its 0-based model timesteps. */
function repaintReference(tT: number, jumpLength: number, jumpNSample: number): number[] {
  const jumps = new Map<number, number>();
  for (let j = 0; j < tT - jumpLength; j += jumpLength) jumps.set(j, jumpNSample - 1);
  let t = tT;
  const ts: number[] = [];
  while (t >= 1) {
    t -= 1;
    ts.push(t);
    if ((jumps.get(t) ?? 0) > 0) {
      jumps.set(t, jumps.get(t)! - 1);
      for (let i = 0; i < jumpLength; i++) {
        t += 1;
        ts.push(t);
      }
    }
  }
  ts.push(-1);
  return ts;
}

/** Our moves as RePaint's sequence of states (its index = our state - 1, starting at K - 1). */
function asRepaintStates(K: number, moves: Move[]): number[] {
  const out: number[] = [];
  let k = K;
  for (const m of moves) {
    if (m.kind === 'denoise') {
      expect(m.from).toBe(k);
      k -= 1;
      out.push(k - 1);
    } else {
      expect(m.from).toBe(k);
      for (let s = k + 1; s <= m.to; s++) out.push(s - 1);
      k = m.to;
    }
  }
  return [K - 1, ...out];
}

describe('planMoves', () => {
  test('without resampling: K denoising moves from K down to 1', () => {
    expect(planMoves(4)).toEqual([4, 3, 2, 1].map((from) => ({ kind: 'denoise', from })));
  });

  test("with resampling it is RePaint's jump schedule, state for state", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 60 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 5 }), (K, j, r) => {
        const moves = planMoves(K, j, r);
        expect(asRepaintStates(K, moves)).toEqual(repaintReference(K, j, r));
        expect(moves.at(-1)).toEqual({ kind: 'denoise', from: 1 });
      }),
      { numRuns: 150 },
    );
  });

  test('RePaint paper setting (250 steps, j = 10, r = 10): 2410 model calls', () => {
    expect(planMoves(250, 10, 10).filter((m) => m.kind === 'denoise')).toHaveLength(250 + 9 * 10 * 24);
  });
});

describe('planTimesteps', () => {
  const s = linearSchedule({ T: 100 });

  test('all timesteps by default, original indices', () => {
    const plan = planTimesteps(s, {}, 'test');
    expect(plan.schedule).toBe(s);
    expect(Array.from(plan.timesteps)).toEqual(Array.from({ length: 100 }, (_, k) => k + 1));
  });

  test('steps: evenly spaced, first and last kept; alphaBar is the original at the kept steps', () => {
    const plan = planTimesteps(s, { steps: 5 }, 'test');
    expect(Array.from(plan.timesteps)).toEqual([1, 26, 51, 75, 100]);
    plan.timesteps.forEach((t, k) => expect(plan.schedule.alphaBars[k]).toBe(s.alphaBars[t - 1]));
  });

  test('respace specs pass through', () => {
    expect(Array.from(planTimesteps(s, { respace: 'ddim10' }, 'test').timesteps)).toEqual([1, 11, 21, 31, 41, 51, 61, 71, 81, 91]);
    expect(Array.from(planTimesteps(s, { respace: [1, 50, 100] }, 'test').timesteps)).toEqual([1, 50, 100]);
  });

  test('bad specs are errors that name the argument', () => {
    expect(() => planTimesteps(s, { steps: 101 }, 'sample')).toThrow(/sample: steps must be an integer in 1\.\.100.*got 101/);
    expect(() => planTimesteps(s, { steps: 0 }, 'sample')).toThrow(RangeError);
    expect(() => planTimesteps(s, { steps: 2.5 }, 'sample')).toThrow(/steps/);
    expect(() => planTimesteps(s, { respace: 'ddim200' }, 'sample')).toThrow(/sample: respace must be a valid respacing of T = 100/);
    expect(() => planTimesteps(s, { respace: [1, 101] }, 'sample')).toThrow(/respace/);
    expect(() => planTimesteps(s, { steps: 10, respace: 'ddim10' }, 'sample')).toThrow(/give one of them/);
  });
});
