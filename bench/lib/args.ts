// Command-line arguments of the benchmark scripts.

/**
 * A whole number of at least 1 from the command line, `fallback` when the argument is absent.
 * Throws an error naming the script, the argument and what is allowed.
 */
export function positiveArg(script: string, arg: string | undefined, fallback: number, what: string): number {
  const n = Number(arg ?? fallback);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`${script}: ${what} is ${arg}; allowed: a whole number of at least 1`);
  return n;
}
