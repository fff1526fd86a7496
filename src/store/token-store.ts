import { abortedError } from "../errors.js";
import type { ResolvedConfig } from "../options/types.js";
import type { ServerMetadata } from "../protocol/metadata.js";
import type { TokenSet } from "../protocol/token.js";
import { openCache, type CacheEntry, type TokenCache, type Warn } from "./cache.js";

/** Where entries live: the file cache, or (with `cache: false`) a session's memory. */
export interface TokenStore {
  readonly id: string;
  read(key: string, warn: Warn): CacheEntry | undefined;
  /** Every saved sign-in with its key. */
  entries(warn: Warn): [string, CacheEntry][];
  write(key: string, entry: CacheEntry | undefined, warn: Warn): boolean;
  lock(options: { staleMs: number; signal?: AbortSignal | undefined }): Promise<() => void>;
}

/** The file cache, or a throwaway memory store with `cache: false`. */
export async function storeFor(config: Pick<ResolvedConfig, "cache" | "cacheDir">): Promise<TokenStore> {
  return config.cache ? fileStore(await openCache(config.cacheDir)) : memoryStore();
}

function fileStore(cache: TokenCache): TokenStore {
  return {
    id: cache.path,
    read: (key, warn) => cache.read(key, warn),
    entries: (warn) => cache.keyed(warn),
    write: (key, entry, warn) => cache.write(key, entry, warn),
    lock: (options) => cache.lock(options),
  };
}

let memoryStores = 0;
/** A store that lives as long as its owner (a session with `cache: false`, or one login). */
function memoryStore(): TokenStore {
  const entries = new Map<string, CacheEntry>();
  return {
    id: `memory:${++memoryStores}`,
    read: (key) => entries.get(key),
    entries: () => [...entries],
    write: (key, entry) => {
      if (entry) entries.set(key, entry);
      else entries.delete(key);
      return true;
    },
    lock: async () => () => {},
  };
}

/** The lock, or (if the lock file cannot be made) a warning and no coordination. */
export async function lockOrWarn(config: Pick<ResolvedConfig, "requestTimeoutMs" | "signal">, store: TokenStore, warn: Warn): Promise<() => void> {
  try {
    // A holder keeps the lock for at most one token request; after that it is abandoned.
    return await store.lock({ staleMs: config.requestTimeoutMs + 10_000, signal: config.signal });
  } catch (error) {
    if (config.signal?.aborted) throw abortedError("while waiting for another kernel's refresh", error);
    warn(`Could not lock the token cache (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); going on without coordinating with other kernels.`);
    return () => {};
  }
}

/** Saves (or removes) one entry under the lock. */
export async function writeLocked(config: Pick<ResolvedConfig, "requestTimeoutMs" | "signal">, store: TokenStore, key: string, entry: CacheEntry | undefined, warn: Warn): Promise<void> {
  const release = await lockOrWarn(config, store, warn);
  try {
    store.write(key, entry, warn);
  } finally {
    release();
  }
}

/** A token response as a cache entry; what the response leaves out is kept from `previous`. */
export function toEntry(config: ResolvedConfig, as: ServerMetadata, tokens: TokenSet, previous: CacheEntry | undefined): CacheEntry {
  return {
    format: 1,
    issuer: as.issuer,
    clientId: config.clientId,
    scopes: [...config.scopes].sort(),
    params: config.extraParams,
    profile: config.profile,
    accessToken: tokens.accessToken,
    tokenType: tokens.tokenType,
    // The key travels with the tokens bound to it; a refresh keeps the same key.
    dpopKey: tokens.dpopKey?.jwk,
    expiresAt: tokens.expiresAt,
    obtainedAt: Date.now(),
    // RFC 6749 §6: without a new refresh token in the response, the old one stays valid.
    refreshToken: tokens.refreshToken ?? previous?.refreshToken,
    scope: tokens.scope ?? previous?.scope,
    sub: tokens.claims?.sub ?? previous?.sub,
    name: displayName(tokens) ?? previous?.name,
    metadata: as,
    clientAuthMethod: tokens.learnedAuth ?? previous?.clientAuthMethod,
  };
}

/** The user's name for the cell, from the ID token: name, preferred_username, email, else sub. */
function displayName(tokens: Pick<TokenSet, "claims">): string | undefined {
  const claims = tokens.claims;
  if (!claims) return undefined;
  for (const key of ["name", "preferred_username", "email", "sub"]) {
    const value = claims[key];
    if (typeof value === "string" && value) return value;
  }
  return undefined;
}
