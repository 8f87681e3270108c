import { appendFile, readFile } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomic } from '@mtd/io';
import { typeFail } from '@mtd/errors';

/**
 * A JSONL training log: one JSON object per line, each with a `step`.
 *
 * Lines are APPENDED (the one kind of write in the project that does not go through
 * writeFileAtomic: rewriting a growing log atomically every step would cost O(steps^2)). A crash
 * can therefore leave a partial last line; `truncateAfter` (run on resume) drops it together with
 * every line past the checkpoint's step, rewriting the file atomically, so the log of a resumed
 * run holds each step exactly once.
 */
export class JsonlLog {
  readonly path: string;

  constructor(path: string) {
    if (typeof path !== 'string' || path === '') typeFail('JsonlLog', 'path', 'a non-empty file path', path);
    this.path = path;
  }

  async append(record: Readonly<Record<string, unknown>>): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    await appendFile(this.path, `${JSON.stringify(record)}\n`);
  }

  /** Keeps the complete lines whose `step` is at most `step` (and lines without a step). */
  async truncateAfter(step: number): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch {
      return; // no log yet
    }
    const kept: string[] = [];
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      let record: { step?: unknown };
      try {
        record = JSON.parse(line) as { step?: unknown };
      } catch {
        continue; // a partial line from a crash
      }
      if (typeof record.step !== 'number' || record.step <= step) kept.push(line);
    }
    await writeFileAtomic(this.path, kept.length > 0 ? `${kept.join('\n')}\n` : '');
  }

  /** Every record of the log (for tests and reports). */
  async read(): Promise<Record<string, unknown>[]> {
    const text = await readFile(this.path, 'utf8');
    return text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}
