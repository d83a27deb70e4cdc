// A capture on pods' host interfaces, for the end-to-end tests that read the kernel directly.
import type { Pod } from '@owlk8s/e2e/harness';
import { Capture, requireHostInterface } from '@owlk8s/ebpf';

/** Loads a capture watching the pods given (target id i + 1 for pods[i]) on their host interfaces. */
export async function watch(
  pods: readonly Pod[],
  options: Parameters<typeof Capture.load>[0] = {},
): Promise<Capture> {
  const cap = Capture.load(options);
  try {
    for (const [i, pod] of pods.entries()) {
      for (const ip of pod.ips) {
        const iface = await requireHostInterface(ip);
        cap.setTarget(ip, iface.ifindex, i + 1);
        cap.attach(iface.ifindex);
      }
    }
    return cap;
  } catch (e) {
    cap.close();
    throw e;
  }
}
