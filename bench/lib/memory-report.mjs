// Loaded with `node --import` by bench/size-levers.ts: on SIGUSR2 the process writes its memory
// breakdown (process.memoryUsage(), V8's heap spaces: size and used, MiB; resident memory by
// mapping from /proc/self/smaps: the node binary, malloc's heap, anonymous memory, each library)
// to $OWLK8S_MEMORY_REPORT, and with $OWLK8S_HEAP_SNAPSHOT set, a heap snapshot to that file.
// JavaScript, not TypeScript, so that loading it does not load Node's type stripper.
import { readFileSync, writeFileSync } from 'node:fs';
import v8 from 'node:v8';

const mib = (bytes) => +(bytes / 2 ** 20).toFixed(1);

/** Resident KiB per mapping name (anonymous mappings as "anonymous"), largest first, MiB. */
function mappings() {
  const rss = new Map();
  let name = '';
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) name = header[1] === '' ? 'anonymous' : header[1] === process.execPath ? 'node' : header[1];
    const kb = /^Rss:\s+(\d+) kB$/.exec(line);
    if (kb) rss.set(name, (rss.get(name) ?? 0) + Number(kb[1]) * 1024);
  }
  return Object.fromEntries(
    [...rss]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8)
      .map(([k, v]) => [k, mib(v)]),
  );
}
process.on('SIGUSR2', () => {
  const m = process.memoryUsage();
  const spaces = v8.getHeapSpaceStatistics();
  writeFileSync(
    process.env.OWLK8S_MEMORY_REPORT,
    JSON.stringify({
      rss: mib(m.rss),
      heapTotal: mib(m.heapTotal),
      heapUsed: mib(m.heapUsed),
      external: mib(m.external),
      arrayBuffers: mib(m.arrayBuffers),
      mappings: mappings(),
      spaces: Object.fromEntries(
        spaces
          .filter((s) => s.space_size > 0)
          .map((s) => [s.space_name, [mib(s.space_size), mib(s.space_used_size)]]),
      ),
    }),
  );
  if (process.env.OWLK8S_HEAP_SNAPSHOT) v8.writeHeapSnapshot(process.env.OWLK8S_HEAP_SNAPSHOT);
});
