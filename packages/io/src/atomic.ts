import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Writes `data` to `path` so that a reader, a crash or a kill sees either the old file or the new
 * one, never half of it: write a temp file beside the target, fsync it, then rename over the target
 * (rename is atomic within one file system). Creates the parent folder if needed.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  if (typeof path !== 'string' || path.length === 0) {
    throw new TypeError(`writeFileAtomic: path must be a non-empty string, got ${String(path)}`);
  }
  if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
    throw new TypeError('writeFileAtomic: data must be a string or a Uint8Array');
  }
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let renamed = false;
  try {
    const handle = await open(tmp, 'wx');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
    renamed = true;
  } finally {
    if (!renamed) await unlink(tmp).catch(() => undefined);
  }
}

/** `writeFileAtomic` of pretty-printed JSON with a trailing newline. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const text = JSON.stringify(value, null, 2);
  if (text === undefined) throw new TypeError('writeJsonAtomic: value must be JSON-serialisable');
  await writeFileAtomic(path, `${text}\n`);
}
