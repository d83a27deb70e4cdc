export type { CurlOptions, H2loadResult, WrkOptions, WrkResult } from './clients.ts';
export { curl, h2Load, h2load, load, parseH2load, parseWrk, wrk } from './clients.ts';
export type { RunResult } from './exec.ts';
export { must, run, sleep } from './exec.ts';
export type { GrpcCall, H2Plan, H2Request, H2Result } from './h2-client.ts';
export type { LoadPlan, LoadResult } from './load-client.ts';
export type { PodOptions } from './network.ts';
export { TestNetwork } from './network.ts';
export type { PodShape, PodSpec } from './pod.ts';
export { Pod } from './pod.ts';
export { requireBpf, requireNetAdmin, requireTool } from './privileges.ts';
export type { NginxOptions, NginxServer, RunningServer } from './servers.ts';
export {
  NGINX_STATUSES,
  startH2Servers,
  startNginx,
  startStatusServer,
  stopper,
  waitReady,
} from './servers.ts';
export { cleanStale, STATE_DIR, staleSlots } from './slots.ts';
