// The Markdown that BENCHMARKS.md is regenerated from: tables, generated sections between markers,
// and a reader of the tables other scripts print (their output is Markdown, not JSON).

export function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const align = header.map((_, i) => (rows.every((r) => typeof r[i] === 'number') ? '---:' : '---'));
  const line = (cells: readonly (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(align), ...rows.map(line)].join('\n');
}

export const startMarker = (name: string): string => `<!-- bench:${name}:start -->`;
export const endMarker = (name: string): string => `<!-- bench:${name}:end -->`;

/**
 * Replaces the text between the markers of section `name` with `body`; appends the section (with
 * its markers) at the end of the document when it is not there yet. Text outside is kept as is.
 */
export function replaceSection(doc: string, name: string, body: string): string {
  const start = startMarker(name);
  const end = endMarker(name);
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  const block = `${start}\n${body.trim()}\n${end}`;
  if (i === -1 && j === -1) return `${doc.trimEnd()}\n\n${block}\n`;
  if (i === -1 || j === -1 || j < i) {
    throw new Error(
      `BENCHMARKS.md: section ${name} has ${i === -1 ? 'no start' : 'no end'} marker or they are out of order`,
    );
  }
  return doc.slice(0, i) + block + doc.slice(j + end.length);
}

/** Every Markdown table in `text`, as rows of header → cell text. */
export function parseTables(text: string): Record<string, string>[][] {
  const tables: Record<string, string>[][] = [];
  const lines = text.split('\n');
  const cells = (l: string) =>
    l
      .trim()
      .replace(/^\||\|$/g, '')
      .split('|')
      .map((c) => c.trim());
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i]!.trim().startsWith('|') || !/^\s*\|[\s:|-]+\|\s*$/.test(lines[i + 1]!)) continue;
    const header = cells(lines[i]!);
    const rows: Record<string, string>[] = [];
    let k = i + 2;
    for (; k < lines.length && lines[k]!.trim().startsWith('|'); k++) {
      const c = cells(lines[k]!);
      rows.push(Object.fromEntries(header.map((h, n) => [h, c[n] ?? ''])));
    }
    tables.push(rows);
    i = k - 1;
  }
  return tables;
}
