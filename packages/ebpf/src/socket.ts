// One attachment: an AF_PACKET socket bound to one interface with the program as its filter.
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { BpfError, capabilityHint } from './errors.ts';
import * as sys from './sys/ffi.ts';

const ETH_P_ALL_BE = 0x0300; // htons(ETH_P_ALL = 3)

export class Attachment implements Disposable {
  readonly ifindex: number;
  #fd: number;

  private constructor(ifindex: number, fd: number) {
    this.ifindex = ifindex;
    this.#fd = fd;
  }

  /**
   * Attaches the program to an interface. The socket is made with protocol 0 (it receives nothing),
   * given the filter, and only then bound to ETH_P_ALL on the interface, so no packet is ever queued
   * on it unfiltered. Throws BpfError: EPERM names CAP_NET_RAW; ENODEV says the interface is gone;
   * ENOMEM names net.core.optmem_max (the program is charged to the socket, up to that many bytes).
   */
  static open(programFd: number, ifindex: number): Attachment {
    if (!Number.isInteger(ifindex) || ifindex <= 0) {
      throw new Error(`attach: interface index ${ifindex} is not a positive integer`);
    }
    const s = sys.socket(sys.AF_PACKET, sys.SOCK_RAW | sys.SOCK_CLOEXEC, 0);
    if (s.value < 0) {
      throw new BpfError(
        `attach ifindex ${ifindex}: socket AF_PACKET`,
        s.errno,
        capabilityHint(s.errno, 'CAP_NET_RAW'),
      );
    }
    const fd = s.value;
    try {
      const prog = Buffer.alloc(4);
      prog.writeInt32LE(programFd);
      const a = sys.setsockopt(fd, sys.SOL_SOCKET, sys.SO_ATTACH_BPF, prog);
      if (a.value < 0) {
        throw new BpfError(
          `attach ifindex ${ifindex}: setsockopt SO_ATTACH_BPF`,
          a.errno,
          a.errno === constants.errno.ENOMEM ? optmemHint() : capabilityHint(a.errno, 'CAP_BPF'),
        );
      }
      const sll = Buffer.alloc(20); // struct sockaddr_ll
      sll.writeUInt16LE(sys.AF_PACKET, 0);
      sll.writeUInt16LE(ETH_P_ALL_BE, 2);
      sll.writeInt32LE(ifindex, 4);
      const b = sys.bind(fd, sll);
      if (b.value < 0) {
        const hint = b.errno === 19 ? 'no interface with this index' : capabilityHint(b.errno, 'CAP_NET_RAW');
        throw new BpfError(`attach ifindex ${ifindex}: bind`, b.errno, hint);
      }
      return new Attachment(ifindex, fd);
    } catch (e) {
      sys.close(fd);
      throw e;
    }
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Closes the socket, which detaches the program. Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    sys.close(this.#fd);
    this.#fd = -1;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** SO_ATTACH_BPF's ENOMEM: the program is larger than the filter memory a socket may hold. */
function optmemHint(): string {
  let limit = 'unknown';
  try {
    limit = `${readFileSync('/proc/sys/net/core/optmem_max', 'utf8').trim()} bytes`;
  } catch {
    // the hint names the sysctl all the same
  }
  return `the program is larger than net.core.optmem_max (${limit}), the filter memory a socket may hold: raise it (sysctl -w net.core.optmem_max=262144) or use capture.attach: tc`;
}
