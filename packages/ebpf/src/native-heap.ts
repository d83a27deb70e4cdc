// The process's native (malloc) heap. V8's compiler threads, libbpf and ffi-rs allocate with
// malloc; glibc keeps what they free inside its arenas, resident, unless asked to give it back.
// In the agent at 1,000 targets that was 16–28 MiB of its resident memory (BENCHMARKS.md, "Agent
// cost against size"); one release takes 0.3–5 ms there.
import * as sys from './sys/ffi.ts';

/** Returns the malloc heap's free pages to the kernel; true when there were any. */
export function releaseFreedNativeMemory(): boolean {
  return sys.mallocTrim() === 1;
}
