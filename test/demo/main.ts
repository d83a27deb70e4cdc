import { runDemo } from './index.ts';

process.exitCode = (await runDemo()) ? 0 : 1;
