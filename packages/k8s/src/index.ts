export type { PodTarget, ServiceRef, ServingPort, TargetEvent, Workload } from './pod-target.ts';
