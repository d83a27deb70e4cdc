// A Kubernetes ConfigMap holding the configuration (deploy/configmap.yaml), so that
// `owlk8s config validate` can check the manifest users edit, with the manifest's line numbers.
import { isMap, isScalar, LineCounter, parseDocument, Scalar } from 'yaml';

export interface EmbeddedConfig {
  /** The data key, e.g. `owlk8s.yaml`. */
  readonly key: string;
  readonly text: string;
  /** Lines of the manifest before the text, when its lines map one to one (a `|` block). */
  readonly lineOffset?: number;
}

/** The `*.yaml` data entries of a ConfigMap manifest, or undefined when the text is not one. */
export function configMapEntries(manifest: string): EmbeddedConfig[] | undefined {
  const lines = new LineCounter();
  const doc = parseDocument(manifest, { lineCounter: lines });
  if (doc.errors.length > 0 || !isMap(doc.contents) || doc.get('kind') !== 'ConfigMap') return undefined;
  const data = doc.get('data', true);
  if (!isMap(data)) return [];
  const out: EmbeddedConfig[] = [];
  for (const pair of data.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    if (!/\.ya?ml$/.test(key) || !isScalar(pair.value) || typeof pair.value.value !== 'string') continue;
    const literal = pair.value.type === Scalar.BLOCK_LITERAL && pair.value.range;
    out.push({
      key,
      text: pair.value.value,
      // A literal block's content starts on the line after its `|` indicator.
      lineOffset: literal ? lines.linePos((pair.value.range as [number, number, number])[0]).line : undefined,
    });
  }
  return out;
}
