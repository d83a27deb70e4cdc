// Run by host-locator.test.ts in a child process whose PATH is an empty directory: locates each IP
// given as an argument with the agent's locator and prints one JSON list of the answers
// (null: no interface carries the IP).
import { HostInterfaceLocator } from '../../packages/agent/src/host-locator.ts';

const locator = new HostInterfaceLocator();
const found = [];
for (const ip of process.argv.slice(2)) found.push((await locator.locate(ip)) ?? null);
process.stdout.write(`${JSON.stringify(found)}\n`);
