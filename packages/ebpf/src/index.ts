export {
  Capture,
  H2_PROGRAM_NAME,
  H2_TC_PROGRAM_NAME,
  PROGRAM_NAME,
  SWEEP_PROGRAM_NAME,
  TC_PROGRAM_NAME,
} from './capture.ts';
export type { AttachMode, CaptureOptions, CaptureSpec } from './config.ts';
export { ATTACH_MODES, captureSpec, DEFAULT_BOUNDARIES_NS, DEFAULT_OBJECT_PATH } from './config.ts';
export { BpfError, KeyNotFoundError, NetlinkError, VerifierError } from './errors.ts';
export { bytesToIp, ipToBytes } from './ip.ts';
export type { JitedFunction, JitedLine, JitedLines } from './jited-lines.ts';
export { jitedLines } from './jited-lines.ts';
export type { HostInterface, NetworkInterface } from './locate.ts';
export { listInterfaces, locateHostInterface, lookupInterface, requireHostInterface } from './locate.ts';
export { hashMapBytes, kernelMemory, ringMapBytes } from './memory.ts';
export type { Red, RedFigures } from './monitor.ts';
export { IpMonitor } from './monitor.ts';
export { releaseFreedNativeMemory } from './native-heap.ts';
export type { ObjectSetup } from './object.ts';
export { LoadedObject } from './object.ts';
export type { ProgramStats } from './program-stats.ts';
export { programStats } from './program-stats.ts';
export { RingReader } from './ring.ts';
export type {
  Aggregate,
  ErrorType,
  H2KernelCounters,
  HttpMethod,
  InFlight,
  Role,
  SelfCounters,
  Snapshot,
} from './snapshot.ts';
export { ERROR_TYPES, HTTP_METHODS } from './snapshot.ts';
export { Attachment } from './socket.ts';
export { LibraryMissingError } from './sys/ffi.ts';
export type { TcMechanism } from './tc.ts';
export { LEGACY_HANDLE, LEGACY_PRIORITY, TcAttachment } from './tc.ts';
