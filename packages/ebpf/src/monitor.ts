// The standalone use, without Kubernetes (the seed's NewBPFLoader(IP, ifIndex)): monitor one IP on
// one interface and read its RED figures.
import { Capture } from './capture.ts';
import type { CaptureOptions } from './config.ts';
import type { Aggregate, Role } from './snapshot.ts';

/** Rate, errors, duration of one role, cumulative since the monitor opened. */
export interface Red {
  readonly requests: bigint;
  /** Responses with status 400..499. */
  readonly clientErrors: bigint;
  /** Responses with status 500..599. */
  readonly serverErrors: bigint;
  readonly durationSumNs: bigint;
  /** Counts per final status code; requests that ended without a response are under 0. */
  readonly byStatus: ReadonlyMap<number, bigint>;
  /** Bucket counts over all series, for boundariesNs. */
  readonly bucketCounts: readonly bigint[];
}

export interface RedFigures {
  readonly ip: string;
  readonly ifindex: number;
  readonly boundariesNs: readonly bigint[];
  /** Requests the IP answered. */
  readonly server: Red;
  /** Requests the IP made. */
  readonly client: Red;
  readonly aggregates: readonly Aggregate[];
}

function red(aggs: readonly Aggregate[], role: Role, nbuckets: number): Red {
  const byStatus = new Map<number, bigint>();
  const bucketCounts = new Array<bigint>(nbuckets).fill(0n);
  let requests = 0n;
  let clientErrors = 0n;
  let serverErrors = 0n;
  let durationSumNs = 0n;
  for (const a of aggs) {
    if (a.role !== role) continue;
    // The seed's figures are Go uint64s: bigint here, whatever the snapshot carries.
    const count = BigInt(a.count);
    requests += count;
    durationSumNs += a.durationSumNs;
    if (a.statusCode >= 400 && a.statusCode < 500) clientErrors += count;
    if (a.statusCode >= 500 && a.statusCode < 600) serverErrors += count;
    byStatus.set(a.statusCode, (byStatus.get(a.statusCode) ?? 0n) + count);
    a.bucketCounts.forEach((c, i) => {
      bucketCounts[i]! += BigInt(c);
    });
  }
  return { requests, clientErrors, serverErrors, durationSumNs, byStatus, bucketCounts };
}

export class IpMonitor implements Disposable {
  readonly ip: string;
  readonly ifindex: number;
  readonly capture: Capture;

  private constructor(ip: string, ifindex: number, capture: Capture) {
    this.ip = ip;
    this.ifindex = ifindex;
    this.capture = capture;
  }

  /**
   * Loads the program, monitors ip on interface ifindex and attaches there. Throws what
   * Capture.load, setTarget and attach throw; nothing stays open when it throws.
   */
  static open(ip: string, ifindex: number, options: CaptureOptions = {}): IpMonitor {
    const capture = Capture.load(options);
    try {
      capture.setTarget(ip, ifindex, 1);
      capture.attach(ifindex);
      return new IpMonitor(ip, ifindex, capture);
    } catch (e) {
      capture.close();
      throw e;
    }
  }

  /** Runs the sweep (timed-out requests are finished) and reads the aggregates. Throws BpfError. */
  read(): RedFigures {
    this.capture.sweep();
    const aggregates = this.capture.readAggregates();
    const n = this.capture.spec.boundariesNs.length + 1;
    return {
      ip: this.ip,
      ifindex: this.ifindex,
      boundariesNs: this.capture.spec.boundariesNs,
      server: red(aggregates, 'server', n),
      client: red(aggregates, 'client', n),
      aggregates,
    };
  }

  close(): void {
    this.capture.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
