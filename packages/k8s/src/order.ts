// Kubernetes names in order by UTF-16 code unit: the same order on every machine, whatever the
// locale, and no ICU collation data loaded (String.prototype.localeCompare loads it: about 2 MiB of
// the agent's resident memory). Names and namespaces are DNS labels, lowercase ASCII.

/** -1, 0 or 1 as a comes before, with or after b by code unit. */
export function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
