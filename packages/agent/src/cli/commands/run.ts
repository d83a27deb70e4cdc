// `owlk8s run` and `owlk8s demo`: thin doors to runAgent (src/run.ts) and the demo (test/demo).
import { loadConfig } from '../../config/load.ts';
import { loggerFromConfig } from '../../log.ts';
import { runAgent } from '../../run.ts';
import { EXIT_FAILURE, EXIT_OK, exitCodeFor } from '../exit-codes.ts';
import { type CliIo, line } from '../io.ts';

/** Throws ConfigError (exit 2) before anything starts when the configuration does not validate. */
export async function runCommand(file: string | undefined, io: CliIo): Promise<number> {
  const { config, notices } = loadConfig({ file, env: io.env });
  const logger = loggerFromConfig(config, io.stderr);
  try {
    // runAgent logs the notices, once.
    await runAgent(config, { logger, notices });
    return EXIT_OK;
  } catch (error) {
    logger.fatal({ err: error }, (error as Error).message);
    return exitCodeFor(error);
  }
}

export interface DemoOptions {
  /** Seconds to run; until Ctrl-C when absent. */
  readonly durationSeconds?: number;
  readonly out?: NodeJS.WritableStream;
}

interface DemoModule {
  runDemo(options: DemoOptions): Promise<boolean>;
}

// The demo lives with the end-to-end harness (@owlk8s/e2e, which depends on this package, so
// this package cannot depend on it back): found by name when linked, else beside the packages
// in a source checkout.
const DEMO_MODULE = '@owlk8s/e2e/demo';
const DEMO_IN_CHECKOUT = new URL('../../../../../test/demo/index.ts', import.meta.url).href;

/** The demo module, or undefined outside a source checkout. */
export async function importDemo(): Promise<DemoModule | undefined> {
  for (const specifier of [DEMO_MODULE, DEMO_IN_CHECKOUT]) {
    try {
      return (await import(specifier)) as DemoModule;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') throw error;
    }
  }
  return undefined;
}

export async function demoCommand(options: DemoOptions, io: CliIo): Promise<number> {
  const demo = await importDemo();
  if (demo === undefined) {
    line(
      io.stderr,
      'owlk8s demo: the demo ships with the source tree (test/demo); run "npm run demo" in a clone of owlk8s',
    );
    return EXIT_FAILURE;
  }
  try {
    return (await demo.runDemo({ ...options, out: io.stdout })) ? EXIT_OK : EXIT_FAILURE;
  } catch (error) {
    line(io.stderr, `owlk8s demo: ${(error as Error).message}`);
    return exitCodeFor(error);
  }
}
