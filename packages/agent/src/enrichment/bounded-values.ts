// Attribute values that come from cluster objects, bounded before they name a series: a pod's
// annotations and labels are written by whoever deploys it, and every value lands on every series of
// the pod, in every scrape and export. Kubernetes lets a pod carry 256 KiB of annotations; without a
// bound one pod could make each scrape megabytes larger.
import type { Attributes } from '@opentelemetry/api';

/** The default most characters (Unicode code points) a value keeps: above Kubernetes' longest names (253). */
export const DEFAULT_MAX_VALUE_LENGTH = 256;

/** What bounding changed, per kind: values cut to the limit, values with characters replaced. */
export interface BoundedTally {
  truncated: number;
  unprintable: number;
}

/** Control, format (zero-width, bidirectional overrides), surrogate, private-use and unassigned code points. */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}]/gu;

/** The character that stands for each unprintable one (U+FFFD REPLACEMENT CHARACTER). */
export const REPLACEMENT = '\uFFFD';

/**
 * `value` cut to `max` code points (never inside a surrogate pair), its unprintable characters
 * replaced by U+FFFD; `tally` counts what was done.
 */
export function boundValue(value: string, max: number, tally?: BoundedTally): string {
  let out = value;
  // A string of more than 2·max UTF-16 units has more than max code points for sure; one of at most
  // max units has at most max. In between, count.
  if (out.length > max && (out.length > 2 * max || [...out].length > max)) {
    out = [...out.slice(0, 2 * max)].slice(0, max).join('');
    if (tally) tally.truncated++;
  }
  const printable = out.replace(UNPRINTABLE, REPLACEMENT);
  if (printable !== out && tally) tally.unprintable++;
  return printable;
}

/** Every string value of `attributes` bounded (keys are left alone: they come from the configuration). */
export function boundAttributes(attributes: Attributes, max: number, tally?: BoundedTally): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(attributes))
    out[k] = typeof v === 'string' ? boundValue(v, max, tally) : v;
  return out;
}
