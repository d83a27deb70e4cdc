// The objects of the test API server and their history, under one global resourceVersion as in
// etcd: every write bumps it; watches replay the history after their resourceVersion, and
// compact() forgets it, so older resourceVersions get 410 Gone.

import { randomUUID } from 'node:crypto';
import { apiVersionOf, type ResourceType, resourceType } from './resources.ts';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: Array<{
    apiVersion: string;
    kind: string;
    name: string;
    uid: string;
    controller?: boolean;
  }>;
  [key: string]: unknown;
}

/** Any Kubernetes object: kind, metadata, and whatever else (spec, status...). */
export interface KubeObject {
  apiVersion?: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoredEvent {
  readonly rv: number;
  readonly type: EventType;
  readonly resource: ResourceType;
  readonly object: KubeObject;
  /** The object before this event (for MODIFIED), so selector watches can see objects enter or leave. */
  readonly previous?: KubeObject;
}

export function objectKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

export class ObjectStore {
  #rv: number;
  #compactedRv: number;
  readonly #objects = new Map<string, Map<string, KubeObject>>();
  #history: StoredEvent[] = [];
  readonly #listeners = new Set<(e: StoredEvent) => void>();

  readonly #maxHistory: number;

  /** `maxHistory`: events kept for watches; older ones are compacted away (etcd compacts too). */
  constructor(initialRv = 1000, maxHistory = 50_000) {
    this.#rv = initialRv;
    this.#compactedRv = initialRv;
    this.#maxHistory = maxHistory;
  }

  get resourceVersion(): number {
    return this.#rv;
  }

  /** Watches from a resourceVersion older than this get 410 Gone. */
  get compactedResourceVersion(): number {
    return this.#compactedRv;
  }

  onEvent(listener: (e: StoredEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Creates or replaces an object (as kubectl apply would); returns the stored copy. */
  apply(input: KubeObject): KubeObject {
    const t = resourceType(input.kind);
    if (!input.metadata?.name)
      throw new Error(`test API server: apply ${input.kind}: metadata.name is required`);
    const obj = structuredClone(input);
    obj.apiVersion = apiVersionOf(t);
    if (t.namespaced) obj.metadata.namespace = obj.metadata.namespace ?? 'default';
    else delete obj.metadata.namespace;
    const items = this.#items(t);
    const key = objectKey(obj.metadata.namespace, obj.metadata.name);
    const previous = items.get(key);
    obj.metadata.uid = previous?.metadata.uid ?? obj.metadata.uid ?? randomUUID();
    obj.metadata.creationTimestamp =
      previous?.metadata.creationTimestamp ?? obj.metadata.creationTimestamp ?? new Date().toISOString();
    obj.metadata.resourceVersion = String(++this.#rv);
    items.set(key, obj);
    this.#emit({ rv: this.#rv, type: previous ? 'MODIFIED' : 'ADDED', resource: t, object: obj, previous });
    return structuredClone(obj);
  }

  /** Deletes an object; returns false when there was none. */
  delete(kind: string, namespace: string | undefined, name: string): boolean {
    const t = resourceType(kind);
    const items = this.#items(t);
    const key = objectKey(t.namespaced ? (namespace ?? 'default') : undefined, name);
    const existing = items.get(key);
    if (!existing) return false;
    items.delete(key);
    // The DELETED event carries the object at the resourceVersion of its deletion, as etcd does.
    const obj = structuredClone(existing);
    obj.metadata.resourceVersion = String(++this.#rv);
    this.#emit({ rv: this.#rv, type: 'DELETED', resource: t, object: obj, previous: existing });
    return true;
  }

  get(kind: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const t = resourceType(kind);
    const obj = this.#items(t).get(objectKey(t.namespaced ? (namespace ?? 'default') : undefined, name));
    return obj && structuredClone(obj);
  }

  /** The live objects of a type, sorted by key as etcd returns them. Not copies: do not modify. */
  list(t: ResourceType): KubeObject[] {
    return [...this.#items(t).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, o]) => o);
  }

  /** Events of a type after a resourceVersion; undefined when that part of history is compacted. */
  eventsSince(t: ResourceType, rv: number): StoredEvent[] | undefined {
    if (rv < this.#compactedRv) return undefined;
    return this.#history.filter((e) => e.rv > rv && e.resource === t);
  }

  /** Forgets all history up to now: watches and continue tokens from older versions get 410. */
  compact(): void {
    this.#history = [];
    this.#compactedRv = this.#rv;
  }

  #items(t: ResourceType): Map<string, KubeObject> {
    let m = this.#objects.get(t.plural);
    if (!m) {
      m = new Map();
      this.#objects.set(t.plural, m);
    }
    return m;
  }

  #emit(e: StoredEvent): void {
    this.#history.push(e);
    if (this.#history.length > this.#maxHistory) {
      const dropped = this.#history.splice(0, this.#history.length - Math.floor(this.#maxHistory / 2));
      this.#compactedRv = dropped.at(-1)?.rv ?? this.#compactedRv;
    }
    for (const l of this.#listeners) l(e);
  }
}
