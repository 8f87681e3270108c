import { cpus, platform, arch } from 'node:os';

/** A GitHub-flavoured markdown table; numbers are printed as given (format them first). */
export function markdownTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  if (header.length === 0) throw new RangeError('markdownTable: header must hold at least one column, got 0');
  rows.forEach((r, i) => {
    if (r.length !== header.length) throw new RangeError(`markdownTable: rows[${i}] must have ${header.length} cells, got ${r.length}`);
  });
  const cell = (v: string | number) => String(v).replace(/\|/g, '\\|');
  return [`| ${header.map(cell).join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n') + '\n';
}

/** The machine a run happened on, for reports: CPU model, cores, OS, Node. */
export function machineDescription(): string {
  const list = cpus();
  const model = list[0]?.model.trim() ?? 'unknown CPU';
  return `${model}, ${list.length} cores, ${platform()} ${arch()}, Node ${process.version}`;
}
