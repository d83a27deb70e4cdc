// Loaded with `node --import` by bench/size-levers.ts: on SIGUSR2 the process writes its memory
// breakdown (process.memoryUsage(), V8's heap spaces: size and used, MiB) to $OWLK8S_MEMORY_REPORT.
// JavaScript, not TypeScript, so that loading it does not load Node's type stripper.
import { writeFileSync } from 'node:fs';
import v8 from 'node:v8';

const mib = (bytes) => +(bytes / 2 ** 20).toFixed(1);
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
      spaces: Object.fromEntries(
        spaces
          .filter((s) => s.space_size > 0)
          .map((s) => [s.space_name, [mib(s.space_size), mib(s.space_used_size)]]),
      ),
    }),
  );
});
