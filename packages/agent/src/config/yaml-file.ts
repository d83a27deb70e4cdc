// Reads a YAML configuration file into plain data, keeping the document so that a problem found
// later can be reported with the line it is on.
import { readFileSync } from 'node:fs';
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, visit } from 'yaml';
import type { ConfigProblem } from './config-error.ts';

export interface YamlFile {
  /** The file's data; undefined when the file could not be read or parsed. */
  readonly data: unknown;
  readonly problems: readonly ConfigProblem[];
  /** The 1-based line of the value at a key path (`targets.static[1].ip`), when the file has it. */
  lineOf(path: string): number | undefined;
}

/** `a.b[2].c` → ['a', 'b', 2, 'c']. */
export function pathKeys(path: string): (string | number)[] {
  const keys: (string | number)[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    keys.push(m[2] === undefined ? (m[1] as string) : Number(m[2]));
  }
  return keys;
}

/** The YAML library's bound on alias expansion (uses of an alias × the aliases within its anchor). */
const MAX_ALIAS_COUNT = 100;

/** `lineOffset`: lines before the text in its file (a configuration embedded in a ConfigMap). */
export function parseYaml(text: string, file: string, lineOffset = 0): YamlFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const lineAt = (offset: number) => lines.linePos(offset).line + lineOffset;
  if (doc.errors.length > 0) {
    return {
      data: undefined,
      problems: doc.errors.map((e) => ({
        origin: { kind: 'file', file, line: lineAt(e.pos[0]) },
        path: '',
        found: `YAML syntax error: ${e.message.split('\n')[0]}`,
        allowed: 'valid YAML: a mapping of sections (node, targets, capture, export, logging, admin)',
      })),
      lineOf: () => undefined,
    };
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    if (!(error instanceof ReferenceError)) throw error;
    // The YAML library stops a "billion laughs" file before it exhausts memory; the first alias
    // names the place to look.
    let line: number | undefined;
    visit(doc, {
      Alias(_, node) {
        if (node.range) line = lineAt(node.range[0]);
        return visit.BREAK;
      },
    });
    return {
      data: undefined,
      problems: [
        {
          origin: { kind: 'file', file, line },
          path: '',
          found: `YAML aliases that expand too far (${error.message})`,
          allowed: 'aliases that each expand to a few nodes, or the values written out',
        },
      ],
      lineOf: () => undefined,
    };
  }
  return {
    data,
    problems: [],
    lineOf: (path) => {
      let keys = pathKeys(path);
      // The line of the key (or list item) the path ends in, or of the closest parent in the file.
      while (keys.length > 0) {
        const parent = keys.length === 1 ? doc.contents : doc.getIn(keys.slice(0, -1), true);
        const last = keys[keys.length - 1];
        if (isMap(parent)) {
          const pair = parent.items.find(
            (p) => (isScalar(p.key) ? String(p.key.value) : p.key) === String(last),
          );
          if (isNode(pair?.key) && pair.key.range) return lineAt(pair.key.range[0]);
        } else if (isSeq(parent) && typeof last === 'number') {
          const item = parent.items[last];
          if (isNode(item) && item.range) return lineAt(item.range[0]);
        }
        keys = keys.slice(0, -1);
      }
      return isNode(doc.contents) && doc.contents.range ? lineAt(doc.contents.range[0]) : undefined;
    },
  };
}

export function readYaml(file: string): YamlFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    const why =
      e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'a directory' : (e.code ?? e.message);
    return {
      data: undefined,
      problems: [
        {
          origin: { kind: 'file', file },
          path: '',
          found: `cannot be read (${why})`,
          allowed: 'a readable YAML file',
        },
      ],
      lineOf: () => undefined,
    };
  }
  return parseYaml(text, file);
}
