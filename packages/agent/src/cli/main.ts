#!/usr/bin/env node
// The `owlk8s` command. Needs Node 24 (it runs TypeScript directly): in a checkout,
// `node_modules/.bin/node packages/agent/src/cli/main.ts --help`.
import { main } from './cli.ts';
import { processIo } from './io.ts';

process.exitCode = await main(process.argv.slice(2), processIo);
