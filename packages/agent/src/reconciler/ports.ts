// What the reconciler needs from the world, as narrow interfaces: the kernel side (attachments
// and the targets map, from @owlk8s/ebpf) and where a pod's traffic enters the host. Tests give
// fakes; the agent gives the real ones.

/** Control of the capture program's attachments and targets map. Each call is one kernel operation. */
export interface CaptureControl {
  /** Attaches the program to an interface. Throws when the interface does not exist. */
  attach(ifindex: number): void;
  /** Closes the interface's attachment (also when the interface is gone already). */
  detach(ifindex: number): void;
  /** Writes ip → {ifindex, targetId} into the targets map. */
  setTarget(ip: string, ifindex: number, targetId: number): void;
  deleteTarget(ip: string): void;
}

export interface HostInterface {
  readonly ifindex: number;
  readonly name: string;
}

/** Finds the host-side interface that carries an IP's traffic. */
export interface InterfaceLocator {
  /** Resolves undefined when no interface carries the IP (yet); throws only on real failures. */
  locate(ip: string, hint?: string): Promise<HostInterface | undefined>;
  /** True while the interface still exists with this index. */
  exists(iface: HostInterface): boolean;
  /**
   * Around each reconcile pass: between the two, exists() may answer from one read of the
   * interface table made during the pass, instead of one request per IP.
   */
  beginPass?(): void;
  endPass?(): void;
}

/** A target the agent wants measured: a pod (key = uid) or a static entry (key = its name). */
export interface WantedTarget {
  readonly key: string;
  readonly ips: readonly string[];
  /** An interface name to use instead of locating (static targets). */
  readonly interfaceHint?: string;
}
