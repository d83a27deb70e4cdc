// What goes wrong in a configuration, said so that the reader can fix it without reading code:
// where (file and line, or environment variable), which key, what was found, what is allowed.

/** Where a value came from. */
export type Origin =
  | { readonly kind: 'file'; readonly file: string; readonly line?: number }
  | { readonly kind: 'env'; readonly variable: string }
  | { readonly kind: 'default' };

export interface ConfigProblem {
  readonly origin: Origin;
  /** Dotted key path with list indexes, e.g. `targets.static[1].ip`; empty for the whole file. */
  readonly path: string;
  /** What was found, e.g. `got 70000`, `unknown key`. */
  readonly found: string;
  /** What would be right. */
  readonly allowed: string;
}

export function describeOrigin(origin: Origin): string {
  switch (origin.kind) {
    case 'file':
      return origin.line === undefined ? origin.file : `${origin.file}:${origin.line}`;
    case 'env':
      return `environment variable ${origin.variable}`;
    case 'default':
      return 'configuration';
  }
}

/** One line: `bad.yaml:7: export.prometheus.port: got 70000; allowed: an integer from 1 to 65535`. */
export function formatProblem(p: ConfigProblem): string {
  const where = describeOrigin(p.origin);
  const path = p.path === '' ? '' : ` ${p.path}:`;
  return `${where}:${path} ${p.found}; allowed: ${p.allowed}`;
}

/** The configuration cannot be used. Carries every problem found, not just the first. */
export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const lines = problems.map(formatProblem);
    super(
      lines.length === 1
        ? `invalid configuration: ${lines[0]}`
        : `invalid configuration (${lines.length} problems):\n${lines.map((l) => `  ${l}`).join('\n')}`,
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
