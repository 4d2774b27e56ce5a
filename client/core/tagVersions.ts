import { randomBytes } from 'node:crypto';
import { InvalidArgumentError } from '../errors';
import type { Clock, WriteResult } from '../types';

/**
 * Where tag versions are kept: one small item per (namespace, tag) holding the tag's current
 * version token. The CacheManager supplies a view of its own storage in a reserved namespace
 * (`__tags__`), sealed like any entry, in the tier every instance shares (a hybrid's last tier:
 * the DynamoDB table, or the file tier when there is none), so an invalidation on one instance
 * reaches every instance and every tier.
 */
export interface TagItemStore {
  /** Results in the order of `keys`; a missing item is `undefined`. Throws when the store cannot answer. */
  getMany<T>(keys: readonly string[]): Promise<(T | undefined)[]>;
  setMany<T>(items: readonly { readonly key: string; readonly value: T; readonly expiresAt: number | null }[]): Promise<WriteResult>;
}

export interface TagVersionsOptions {
  readonly store: TagItemStore;
  readonly clock: Clock;
  /** How long a tag version read from the store is trusted before it is read again. */
  readonly cacheMs: number;
  /** Lifetime of a tag's version item (an entry outliving its tag's item reads as a miss). */
  readonly itemTtlMs: number;
}

/** Reserved namespace of the tag version items. */
export const TAG_NAMESPACE = '__tags__';
/** Tags per call and tag length: tags are labels, not data. */
const MAX_TAGS = 64;
const MAX_TAG_LENGTH = 256;
/** Tag versions remembered in memory; past this the oldest are forgotten (and read again when needed). */
const MAX_CACHED_TAGS = 10_000;
/**
 * After the store fails to answer, tagged reads fail fast (as misses) for this long instead of
 * each waiting for the store's own timeouts: the tag store is read directly, not through a
 * hybrid's circuit breakers.
 */
const RETRY_AFTER_FAILURE_MS = 1_000;

interface CachedVersion {
  readonly token: string | undefined;
  readonly at: number;
  /** Local order of the knowledge: a read started before a local write must not overwrite what it wrote. */
  readonly seq: number;
}

/**
 * Tag invalidation by version tokens. Every tagged entry records, inside its sealed bytes, the
 * token each of its tags had when it was written; `invalidate` gives the tags fresh random
 * tokens, so every entry written before reads as a miss everywhere. Tokens are random, never
 * counters: an invalidation is a blind write (no read-modify-write to race), and concurrent
 * invalidations or first uses on several instances can only produce more misses, never revive
 * an invalidated entry. A tag gets its first token when an entry is first written under it, so
 * losing the tag's item (evicted, expired) turns its entries into misses rather than hits.
 *
 * Cost (documented in docs/integrations.md): versions are cached here for `cacheMs`, so a tagged
 * read or write adds one batched store read per `cacheMs` per tag set, a first use of a tag one
 * batched write, and `invalidate` one batched write; another instance sees an invalidation
 * within `cacheMs` (this instance at once).
 */
export class TagVersions {
  private readonly cache = new Map<string, CachedVersion>();
  /** First versions being written, by tag: concurrent first uses of one tag share one token. */
  private readonly creating = new Map<string, Promise<string>>();
  /** Store reads in flight, by tag: concurrent reads of one tag share one request. */
  private readonly pending = new Map<string, Promise<string | undefined>>();
  private seq = 0;
  private failure: { readonly until: number; readonly error: unknown } | undefined;

  constructor(private readonly options: TagVersionsOptions) {}

  /** The tokens to record for an entry written now under `tags`, creating those a tag lacks. */
  async forWrite(namespace: string, tags: readonly string[], entryExpiresAt: number | null): Promise<[string, string][]> {
    const unique = checkTags(tags, 'tags');
    const tokens = await this.current(namespace, unique);
    const now = this.options.clock();
    // A new version item lives at least as long as the entry, so the entry is not lost early.
    const itemExpiry = entryExpiresAt === null ? null : Math.max(entryExpiresAt, now + this.options.itemTtlMs);
    const out: (string | Promise<string>)[] = [];
    const created: { key: string; value: string; expiresAt: number | null }[] = [];
    const createdAt: number[] = [];
    for (const [i, tag] of unique.entries()) {
      const token = tokens[i];
      // Concurrent first uses of a tag in this process share one token (instead of each writing its own).
      const joined = token === undefined ? this.creating.get(cacheKey(namespace, tag)) : undefined;
      if (token === undefined && joined === undefined) {
        created.push({ key: tagItemKey(namespace, tag), value: newToken(), expiresAt: itemExpiry });
        createdAt.push(i);
      }
      out.push(token ?? joined ?? created[created.length - 1]!.value);
    }
    if (created.length > 0) {
      const written = this.options.store.setMany(created).then(() => {
        const seq = ++this.seq;
        for (const [j, i] of createdAt.entries()) this.remember(namespace, unique[i]!, created[j]!.value, now, seq);
      });
      for (const [j, i] of createdAt.entries()) {
        const key = cacheKey(namespace, unique[i]!);
        const one = written.then(() => created[j]!.value);
        const settled = () => {
          if (this.creating.get(key) === one) this.creating.delete(key);
        };
        one.then(settled, settled);
        this.creating.set(key, one);
        out[i] = one;
      }
    }
    const resolved = await Promise.all(out);
    return unique.map((tag, i): [string, string] => [tag, resolved[i]!]);
  }

  /** Gives `tags` new versions: entries written under them before now read as misses. */
  async invalidate(namespace: string, tags: readonly string[]): Promise<void> {
    const unique = checkTags(tags, 'invalidateTags(tags)');
    if (unique.length === 0) return;
    const now = this.options.clock();
    const items = unique.map((tag) => ({ key: tagItemKey(namespace, tag), value: newToken(), expiresAt: now + this.options.itemTtlMs }));
    // Forget first: a read racing the write must go to the store, not to the old cached token,
    // nor join a store read that started before.
    for (const tag of unique) {
      this.cache.delete(cacheKey(namespace, tag));
      this.pending.delete(cacheKey(namespace, tag));
    }
    await this.options.store.setMany(items);
    const seq = ++this.seq;
    for (const [i, tag] of unique.entries()) this.remember(namespace, tag, items[i]!.value, now, seq);
  }

  /**
   * Whether every recorded `[tag, token]` is still its tag's current version. Synchronous when
   * all of them are cached (the hot path); rejects when the store cannot be read.
   */
  isCurrent(namespace: string, recorded: readonly (readonly [string, string])[]): boolean | Promise<boolean> {
    const now = this.options.clock();
    let missing = false;
    for (const [tag, token] of recorded) {
      const cached = this.fresh(namespace, tag, now);
      if (cached === undefined) missing = true;
      else if (cached.token !== token) return false;
    }
    if (!missing) return true;
    return this.current(namespace, recorded.map(([tag]) => tag)).then((tokens) => recorded.every(([, token], i) => tokens[i] === token));
  }

  /**
   * Current tokens of `tags` (`undefined`: the tag has none), reading the uncached ones in one
   * batch; a tag another call is already reading joins that read.
   */
  private async current(namespace: string, tags: readonly string[]): Promise<(string | undefined)[]> {
    const now = this.options.clock();
    const out: (string | undefined | Promise<string | undefined>)[] = [];
    const fetch: number[] = [];
    for (const [i, tag] of tags.entries()) {
      const cached = this.fresh(namespace, tag, now);
      const joined = cached === undefined ? this.pending.get(cacheKey(namespace, tag)) : undefined;
      if (cached === undefined && joined === undefined) fetch.push(i);
      out.push(joined ?? cached?.token);
    }
    if (fetch.length > 0) {
      if (this.failure !== undefined) {
        if (now < this.failure.until && now >= this.failure.until - RETRY_AFTER_FAILURE_MS) throw this.failure.error;
        this.failure = undefined;
      }
      const seq = ++this.seq;
      const batch = this.options.store.getMany<unknown>(fetch.map((i) => tagItemKey(namespace, tags[i]!))).then(
        (found) => found.map((value) => (typeof value === 'string' ? value : undefined)),
        (err: unknown) => {
          this.failure = { until: now + RETRY_AFTER_FAILURE_MS, error: err };
          throw err;
        },
      );
      for (const [j, i] of fetch.entries()) {
        const key = cacheKey(namespace, tags[i]!);
        const one = batch.then((tokens) => {
          if (this.pending.get(key) === one) this.pending.delete(key);
          this.remember(namespace, tags[i]!, tokens[j], now, seq);
          return tokens[j];
        });
        // Settled here too, so a failed read no one else joined is not an unhandled rejection.
        one.catch(() => {
          if (this.pending.get(key) === one) this.pending.delete(key);
        });
        this.pending.set(key, one);
        out[i] = one;
      }
    }
    return Promise.all(out);
  }

  private fresh(namespace: string, tag: string, now: number): CachedVersion | undefined {
    const cached = this.cache.get(cacheKey(namespace, tag));
    if (cached === undefined) return undefined;
    // A clock that went backwards also re-reads.
    return now - cached.at < this.options.cacheMs && now >= cached.at ? cached : undefined;
  }

  private remember(namespace: string, tag: string, token: string | undefined, now: number, seq: number): void {
    const key = cacheKey(namespace, tag);
    const known = this.cache.get(key);
    if (known !== undefined && known.seq > seq) return;
    this.cache.delete(key);
    if (this.cache.size >= MAX_CACHED_TAGS) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, { token, at: now, seq });
  }
}

/** Namespaces cannot contain a newline (backends allow `[A-Za-z0-9._:-]`), so this key is unambiguous. */
function tagItemKey(namespace: string, tag: string): string {
  return `${namespace}\n${tag}`;
}

const cacheKey = tagItemKey;

function newToken(): string {
  return randomBytes(12).toString('base64url');
}

/** Validates a tag list and drops duplicates; `call` names the option in errors. */
export function checkTags(tags: unknown, call: string): string[] {
  if (!Array.isArray(tags)) {
    throw new InvalidArgumentError(`${call} must be an array of tag strings, got ${tags === null ? 'null' : typeof tags}.`, {
      hint: 'Pass tags as an array, e.g. { tags: ["user:42", "reports"] }.',
    });
  }
  const unique = [...new Set(tags as unknown[])];
  if (unique.length > MAX_TAGS) {
    throw new InvalidArgumentError(`${call} has ${unique.length} tags; at most ${MAX_TAGS} are allowed per call.`, {
      hint: 'Tags are labels shared by many entries; split larger invalidations into several calls.',
    });
  }
  for (const tag of unique) {
    if (typeof tag !== 'string' || tag.length === 0 || tag.length > MAX_TAG_LENGTH || !(tag as unknown as { isWellFormed(): boolean }).isWellFormed()) {
      throw new InvalidArgumentError(`${call}: every tag must be a non-empty, well-formed string of at most ${MAX_TAG_LENGTH} characters.`, {
        hint: 'Use short labels such as "user:42" or "reports".',
      });
    }
  }
  return unique as string[];
}
