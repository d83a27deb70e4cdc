// `owlk8s run`: a thin door to runAgent (src/run.ts).
import { loadConfig } from '../../config/load.ts';
import { loggerFromConfig } from '../../log.ts';
import { runAgent } from '../../run.ts';
import { EXIT_OK, exitCodeFor } from '../exit-codes.ts';
import type { CliIo } from '../io.ts';

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
