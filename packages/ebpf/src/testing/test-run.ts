// BPF_PROG_TEST_RUN for tests: the library runs the sweep program with the same call.
export { testRun, testRunRepeated } from '../prog-test-run.ts';
