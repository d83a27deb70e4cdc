// `@owlk8s/ebpf/testing`: tools for tests of the capture program, not part of the library's API
// (`@owlk8s/ebpf`): crafted frames, BPF_PROG_TEST_RUN, the bridge step of host-interface location
// on its own (neighbour table and FDB, for tests that name the bridge directly), and snapshot parts
// for snapshots built by hand.
export { throughFdb } from '../locate.ts';
export { type FrameSpec, frame } from './frames.ts';
export { ZERO_SELF } from './snapshots.ts';
export { testRun, testRunRepeated } from './test-run.ts';
