/** Exit codes scripts can rely on. */
export const exitCodes = { ok: 0, failure: 1, usage: 2, config: 3, notFound: 4, unavailable: 5 } as const;

/** Left-aligned columns, a header row first. */
export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  for (const row of [header, ...rows]) process.stdout.write(`${row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()}\n`);
}
