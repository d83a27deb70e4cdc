// Loaded with `node --import` by bench/size-levers.ts for its "without releasing freed native
// memory" variant: makes the agent's malloc_trim calls (releaseFreedNativeMemory, packages/ebpf)
// do nothing, by replacing ffi-rs's `load` for that one function before the agent imports ffi-rs
// (Node caches the CommonJS module by its real path, so the agent gets this same object).
import { createRequire } from 'node:module';

const ffi = createRequire(new URL('../../packages/ebpf/package.json', import.meta.url))('ffi-rs');
const load = ffi.load;
ffi.load = (opts) => (opts.funcName === 'malloc_trim' ? 0 : load(opts));
