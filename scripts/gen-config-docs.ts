// Writes docs/configuration.md from the agent's configuration schema. Run after changing
// packages/agent/src/config/schema.ts: `node scripts/gen-config-docs.ts`.
import { writeFileSync } from 'node:fs';
import { renderConfigDocs } from '../packages/agent/src/config/docs.ts';

writeFileSync(new URL('../docs/configuration.md', import.meta.url), renderConfigDocs());
console.log('wrote docs/configuration.md');
