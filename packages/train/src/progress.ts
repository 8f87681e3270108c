import { rangeFail } from '@mtd/errors';
import { checkInt } from './errors.js';

/** Where progress goes: anything with `write`, e.g. `process.stderr`. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface ProgressOptions {
  /** The step the run ends at. */
  total: number;
  /** The step the run starts from (after a resume); default 0. */
  start?: number;
  /** Default `process.stderr`. */
  stream?: ProgressStream;
  /**
   * `'bar'`: one line redrawn in place (`\r`), for terminals; `'lines'`: a plain line every
   * `every` steps and at the end, for logs and CI; `'off'`; `'auto'` (default): bar on a TTY,
   * lines otherwise.
   */
  mode?: 'auto' | 'bar' | 'lines' | 'off';
  /** Steps between plain lines; default 10. */
  every?: number;
  /** A clock in milliseconds (tests pass a fake one); default `performance.now`. */
  now?: () => number;
}

export interface ProgressUpdate {
  step: number;
  loss: number;
  /** Examples processed in this step (the batch size). */
  examples: number;
}

/**
 * The training progress display on stderr: step, loss, images per second and ETA. Rates count
 * from the first update of this run (so a resumed run's ETA is its own), and ignore the first
 * step's duration, which includes tfjs's kernel set-up.
 */
export class ProgressBar {
  private readonly total: number;
  private readonly start: number;
  private readonly stream: ProgressStream;
  private readonly mode: 'bar' | 'lines' | 'off';
  private readonly every: number;
  private readonly now: () => number;
  private firstAt: number | undefined;
  private firstStep = 0;
  private examples = 0;
  private drawn = false;

  constructor(options: ProgressOptions) {
    const where = 'ProgressBar';
    this.total = checkInt(where, 'options.total', options.total, 0);
    this.start = checkInt(where, 'options.start', options.start ?? 0, 0);
    this.stream = options.stream ?? process.stderr;
    const mode = options.mode ?? 'auto';
    if (!['auto', 'bar', 'lines', 'off'].includes(mode)) rangeFail(where, 'options.mode', "'auto', 'bar', 'lines' or 'off'", mode);
    this.mode = mode === 'auto' ? (this.stream.isTTY ? 'bar' : 'lines') : (mode as 'bar' | 'lines' | 'off');
    this.every = checkInt(where, 'options.every', options.every ?? 10, 1);
    this.now = options.now ?? (() => performance.now());
  }

  /** Call after every step. */
  update(u: ProgressUpdate): void {
    if (this.mode === 'off') return;
    const t = this.now();
    if (this.firstAt === undefined) {
      this.firstAt = t;
      this.firstStep = u.step;
    } else {
      this.examples += u.examples;
    }
    const line = this.format(u, t);
    if (this.mode === 'bar') {
      this.stream.write(`\r${line}\x1b[K`);
      this.drawn = true;
      if (u.step >= this.total) this.finish();
    } else if (u.step % this.every === 0 || u.step >= this.total || u.step === this.start + 1) {
      this.stream.write(`${line}\n`);
    }
  }

  /** Ends the bar's line (call once when stopping early). */
  finish(): void {
    if (this.mode === 'bar' && this.drawn) this.stream.write('\n');
    this.drawn = false;
  }

  /** The text of one update (exported for tests through the stream). */
  private format(u: ProgressUpdate, t: number): string {
    const done = Math.min(1, this.total === 0 ? 1 : u.step / this.total);
    const width = 24;
    const filled = Math.round(done * width);
    const bar = this.mode === 'bar' ? ` [${'#'.repeat(filled)}${'-'.repeat(width - filled)}]` : '';
    const elapsed = (t - (this.firstAt ?? t)) / 1000;
    const steps = u.step - this.firstStep;
    const rate = elapsed > 0 && steps > 0 ? this.examples / elapsed : undefined;
    const stepRate = elapsed > 0 && steps > 0 ? steps / elapsed : undefined;
    const eta = stepRate !== undefined ? formatDuration((this.total - u.step) / stepRate) : '?';
    const loss = Number.isFinite(u.loss) ? u.loss.toPrecision(4) : String(u.loss);
    const speed = rate !== undefined ? `${rate.toFixed(rate >= 100 ? 0 : 1)} img/s` : '? img/s';
    return `step ${u.step}/${this.total}${bar} ${(done * 100).toFixed(0)}% loss ${loss} ${speed} ETA ${eta}`;
  }
}

/** `3725` -> `1h02m05s`, `65` -> `1m05s`, `4.2` -> `4s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (h > 0) return `${h}h${pad(m)}m${pad(r)}s`;
  if (m > 0) return `${m}m${pad(r)}s`;
  return `${r}s`;
}
