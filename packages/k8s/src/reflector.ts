// The list-then-watch loop of one resource: list (in pages), then watch from the listed
// resourceVersion; bookmarks move the resourceVersion on; 410 Gone means list again and diff
// against the cache; any other failure retries with capped backoff, forever, until stopped.

import { Backoff, type BackoffOptions } from './backoff.ts';
import { applyChange, type Change, deleteChange, diffList, upsertChange } from './cache.ts';
import type { Clock } from './clock.ts';
import { ApiError, GoneError } from './errors.ts';
import type { Logger } from './logger.ts';
import { rawKey, rawResourceVersion } from './records.ts';
import type { RawWatchEvent, Transport, WatchedResource, WatchHandle } from './transport.ts';

export type ReflectorPhase = 'listing' | 'watching' | 'backoff' | 'stopped';

export interface ReflectorStatus {
  readonly resource: WatchedResource;
  readonly phase: ReflectorPhase;
  /** The first list has completed. */
  readonly synced: boolean;
  /** clock.now() of the last sign the view is current: a list, an opened watch, an event, a bookmark. */
  readonly lastSyncAt: number | undefined;
  readonly resourceVersion: string | undefined;
  /** Failures in a row (0 while healthy). */
  readonly failures: number;
  readonly lastError: ApiError | undefined;
}

export interface ReflectorOptions<R> {
  readonly resource: WatchedResource;
  readonly fieldSelector?: string;
  readonly transport: Transport;
  /** Keeps the fields needed; undefined drops an object that lacks them. */
  readonly project: (raw: unknown) => R | undefined;
  readonly keyOf: (record: R) => string;
  /** Called with every change to the cache: one per watch event, all of a list at once. */
  readonly onChanges: (changes: readonly Change<R>[], source: 'list' | 'watch') => void;
  readonly onStatus?: (status: ReflectorStatus) => void;
  /** Called with each failed attempt (the loop retries on its own). */
  readonly onError?: (err: ApiError) => void;
  readonly clock: Clock;
  readonly random: () => number;
  readonly backoff: BackoffOptions;
  readonly pageSize: number;
  /** Watches ask the server to end after a random time in [min, 2*min) seconds, as client-go does. */
  readonly watchTimeoutSeconds: number;
  readonly logger: Logger;
}

type WatchEnd = { readonly how: 'gone' | 'closed'; readonly events: number };

export class Reflector<R> {
  readonly #o: ReflectorOptions<R>;
  readonly #cache = new Map<string, R>();
  readonly #backoff: Backoff;
  readonly #stop = new AbortController();
  #rv: string | undefined;
  #phase: ReflectorPhase = 'listing';
  #synced = false;
  #lastSyncAt: number | undefined;
  #failures = 0;
  #lastError: ApiError | undefined;
  #handle: WatchHandle | undefined;
  #loop: Promise<void> | undefined;

  constructor(opts: ReflectorOptions<R>) {
    this.#o = opts;
    this.#backoff = new Backoff(opts.backoff, opts.random);
  }

  /** The cached records by key. */
  get cache(): ReadonlyMap<string, R> {
    return this.#cache;
  }

  get status(): ReflectorStatus {
    return {
      resource: this.#o.resource,
      phase: this.#phase,
      synced: this.#synced,
      lastSyncAt: this.#lastSyncAt,
      resourceVersion: this.#rv,
      failures: this.#failures,
      lastError: this.#lastError,
    };
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
    this.#setPhase('stopped');
  }

  async #run(): Promise<void> {
    const log = this.#o.logger;
    while (!this.#stop.signal.aborted) {
      try {
        if (this.#rv === undefined) await this.#list();
        const started = this.#o.clock.now();
        const end = await this.#watch();
        if (end.how === 'gone') {
          log.info({ resource: this.#o.resource }, 'watch resourceVersion expired (410 Gone): listing again');
          this.#rv = undefined;
          continue;
        }
        // A clean end (server timeout) is normal; only a watch that ends at once, empty, many
        // times in a row is a problem worth slowing down for.
        if (end.events > 0 || this.#o.clock.now() - started >= 1000) this.#backoff.reset();
        else await this.#o.clock.delay(this.#backoff.next(), this.#stop.signal);
      } catch (err) {
        if (this.#stop.signal.aborted) break;
        const e =
          err instanceof ApiError ? err : new ApiError('watch', this.#o.resource, undefined, String(err));
        if (e instanceof GoneError) this.#rv = undefined;
        this.#failures++;
        this.#lastError = e;
        const wait = this.#backoff.next();
        this.#setPhase('backoff');
        // A dropped stream is routine (API server restart, load balancer); a refusal, or a
        // fifth failure in a row, is not.
        const level = e.status === 403 || this.#failures === 5 ? 'error' : 'warn';
        log[level](
          { resource: this.#o.resource, err: e.message, failures: this.#failures, retryInMs: wait },
          'API request failed; retrying',
        );
        try {
          this.#o.onError?.(e);
        } catch (handlerErr) {
          log.error({ resource: this.#o.resource, err: String(handlerErr) }, 'error handler threw');
        }
        try {
          await this.#o.clock.delay(wait, this.#stop.signal);
        } catch {
          break;
        }
      }
    }
  }

  async #list(): Promise<void> {
    this.#setPhase('listing');
    const listed = new Map<string, R>();
    let token: string | undefined;
    let rv = '';
    do {
      const page = await this.#o.transport.list(this.#o.resource, {
        fieldSelector: this.#o.fieldSelector,
        limit: this.#o.pageSize,
        continueToken: token,
      });
      // The first page's resourceVersion is the snapshot's; later pages belong to it.
      if (token === undefined) rv = page.resourceVersion;
      for (const raw of page.items) {
        const r = this.#o.project(raw);
        if (r !== undefined) listed.set(this.#o.keyOf(r), r);
      }
      token = page.continueToken;
    } while (token && !this.#stop.signal.aborted);
    if (this.#stop.signal.aborted) return;
    const changes = diffList(this.#cache, listed);
    for (const c of changes) applyChange(this.#cache, c);
    this.#rv = rv;
    this.#synced = true;
    this.#deliver(changes, 'list');
    this.#healthy();
    this.#o.logger.debug(
      { resource: this.#o.resource, items: listed.size, changes: changes.length, resourceVersion: rv },
      'listed',
    );
  }

  #watch(): Promise<WatchEnd> {
    return new Promise<WatchEnd>((resolve, reject) => {
      let events = 0;
      let ended = false;
      const onStop = (): void => end({ how: 'closed', events });
      const end = (how: WatchEnd | ApiError): void => {
        if (ended) return;
        ended = true;
        this.#stop.signal.removeEventListener('abort', onStop);
        this.#handle?.abort();
        this.#handle = undefined;
        if (how instanceof ApiError) reject(how);
        else resolve(how);
      };
      if (this.#stop.signal.aborted) return onStop();
      this.#stop.signal.addEventListener('abort', onStop, { once: true });
      const onEvent = (e: RawWatchEvent): void => {
        if (ended) return;
        events++;
        const err = this.#onEvent(e);
        if (err) end(err instanceof GoneError ? { how: 'gone', events } : err);
      };
      const onClose = (err: ApiError | undefined): void => end(err ?? { how: 'closed', events });
      this.#o.transport
        .watch(
          this.#o.resource,
          {
            fieldSelector: this.#o.fieldSelector,
            resourceVersion: this.#rv ?? '',
            timeoutSeconds: Math.floor(this.#o.watchTimeoutSeconds * (1 + this.#o.random())),
          },
          onEvent,
          onClose,
        )
        .then(
          (handle) => {
            if (ended) return handle.abort();
            this.#handle = handle;
            this.#setPhase('watching');
            this.#healthy();
          },
          (err: unknown) => {
            if (err instanceof GoneError) end({ how: 'gone', events });
            else
              end(
                err instanceof ApiError
                  ? err
                  : new ApiError('watch', this.#o.resource, undefined, String(err)),
              );
          },
        );
    });
  }

  /** Applies one watch event; returns the error that ends the watch, if it is one. */
  #onEvent(e: RawWatchEvent): ApiError | undefined {
    const resource = this.#o.resource;
    if (e.type === 'ERROR') {
      const s = (e.object ?? {}) as { code?: unknown; message?: unknown };
      const message = typeof s.message === 'string' ? s.message : undefined;
      if (s.code === 410) return new GoneError('watch', resource, message);
      return new ApiError(
        'watch',
        resource,
        typeof s.code === 'number' ? s.code : undefined,
        message ?? 'ERROR event',
      );
    }
    const rv = rawResourceVersion(e.object);
    if (e.type === 'BOOKMARK') {
      if (rv) this.#rv = rv;
      this.#healthy();
      return undefined;
    }
    let change: Change<R> | undefined;
    if (e.type === 'ADDED' || e.type === 'MODIFIED') {
      const r = this.#o.project(e.object);
      if (r !== undefined) change = upsertChange(this.#cache, this.#o.keyOf(r), r);
    } else if (e.type === 'DELETED') {
      const key = rawKey(e.object);
      if (key !== undefined) change = deleteChange(this.#cache, key);
    } else {
      this.#o.logger.warn({ resource, type: e.type }, 'unknown watch event type; ignored');
      return undefined;
    }
    if (rv) this.#rv = rv;
    this.#healthy();
    if (change) {
      applyChange(this.#cache, change);
      this.#deliver([change], 'watch');
    }
    return undefined;
  }

  #deliver(changes: readonly Change<R>[], source: 'list' | 'watch'): void {
    try {
      this.#o.onChanges(changes, source);
    } catch (err) {
      // A consumer's bug must not stop the watch.
      this.#o.logger.error(
        { resource: this.#o.resource, err: String(err) },
        'change handler threw; watch continues',
      );
    }
  }

  #healthy(): void {
    this.#lastSyncAt = this.#o.clock.now();
    if (this.#failures > 0) {
      this.#o.logger.info({ resource: this.#o.resource, after: this.#failures }, 'API reachable again');
    }
    this.#failures = 0;
    this.#lastError = undefined;
    this.#backoff.reset();
    this.#notify();
  }

  #setPhase(p: ReflectorPhase): void {
    if (this.#phase === p) return;
    this.#phase = p;
    this.#notify();
  }

  #notify(): void {
    try {
      this.#o.onStatus?.(this.status);
    } catch (err) {
      this.#o.logger.error({ resource: this.#o.resource, err: String(err) }, 'status handler threw');
    }
  }
}
