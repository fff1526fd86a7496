import { dirname, join } from "node:path";
import { abortedError, LoginError } from "../errors.js";
import type { ResolvedConfig } from "../options/types.js";
import type { ServerMetadata } from "../protocol/metadata.js";
import type { TokenSet } from "../protocol/token.js";
import { openCacheFile, type CacheEntry, type CacheFile, type Warn } from "./cache.js";
import { secretsFor, type SecretCodec } from "./secret-codec.js";
import { RegistrationFile, type Registration } from "./registrations.js";

/**
 * Where saved sign-ins live: the cache file of a folder, or (with `cache: false`) a session's
 * memory. One object per folder for the process, so that what it coordinates (overlapping
 * refreshes) is shared by every call that uses the folder.
 */
export interface TokenStore {
  readonly id: string;
  read(key: string, warn: Warn): CacheEntry | undefined;
  /** Every saved sign-in with its key. */
  entries(warn: Warn): [string, CacheEntry][];
  write(key: string, entry: CacheEntry | undefined, warn: Warn): boolean;
  /** Takes the cross-process lock; its release (awaited) first removes the secret store's key when no sign-in uses it any more. */
  lock(options: { staleMs: number; signal?: AbortSignal | undefined }): Promise<() => void | Promise<void>>;
  /** Where this store writes the secrets of a sign-in: "keychain", "file", or "memory" (`cache: false`). */
  readonly secretsIn: "keychain" | "file" | "memory";
  /** Work on one key in flight in this process (a refresh): later callers share its promise. */
  readonly inflight: Map<string, Promise<unknown>>;
  /** The client this machine registered at `issuer` (RFC 7591), if any. */
  registration(issuer: string, warn: Warn): Registration | undefined;
  /** Every client this machine registered (for `status`). */
  registrations(warn: Warn): Registration[];
  /** Saves (or forgets) the client registered at `issuer`; the caller holds the lock. */
  saveRegistration(issuer: string, registration: Registration | undefined, warn: Warn): boolean;
  /**
   * Claims the browser sign-in of `key` for this process, for at most `staleMs`, or says which
   * process has it (another kernel signing in with the same options right now).
   */
  claimSignIn(key: string, staleMs: number): Promise<SignInClaim>;
}

export type SignInClaim =
  | { release(): void }
  | {
      holder: { pid: number; host: string; at: number };
      /** Whether the other process still holds it. */
      held(): boolean;
    };

/** The folder's store, or a throwaway memory store with `cache: false`. */
export async function storeFor(config: Pick<ResolvedConfig, "cache" | "cacheDir" | "store" | "signal">): Promise<TokenStore> {
  if (!config.cache) return memoryStore();
  const file = await openCacheFile(config.cacheDir);
  let folder = folders.get(file);
  if (!folder) folders.set(file, (folder = { inflight: new Map(), clients: new RegistrationFile(file.dir), views: new Map() }));
  const secrets = await secretsFor(file, config.store, config.signal);
  let view = folder.views.get(config.store);
  if (!view) folder.views.set(config.store, (view = fileStore(file, folder, secrets)));
  return view;
}
/** What every view of one folder shares: refreshes under way, its registered clients. */
interface Folder {
  inflight: Map<string, Promise<unknown>>;
  clients: RegistrationFile;
  views: Map<string, TokenStore>;
}
const folders = new WeakMap<CacheFile, Folder>();

function fileStore(file: CacheFile, folder: Folder, secrets: SecretCodec): TokenStore {
  const { clients } = folder;
  let removed = false;
  const store: TokenStore = {
    id: file.path,
    get secretsIn() {
      return secrets.where;
    },
    read: (key, warn) => secrets.open(key, file.read(key, warn), warn),
    entries: (warn) =>
      file.keyed(warn).flatMap(([key, stored]) => {
        const entry = secrets.open(key, stored, warn);
        return entry ? [[key, entry] as [string, CacheEntry]] : [];
      }),
    write: (key, entry, warn) => {
      removed ||= entry === undefined;
      const stored = entry && secrets.close(key, entry, warn);
      return stored === null ? false : file.write(key, stored, warn);
    },
    async lock(options) {
      const release = await file.lock(options);
      try {
        await secrets.prepare(options.signal);
      } catch (error) {
        release();
        throw error;
      }
      return async () => {
        try {
          // A removal under this lock may have been the last sign-in sealed with the folder's key.
          if (removed) await secrets.settle(file);
        } finally {
          removed = false;
          release();
        }
      };
    },
    inflight: folder.inflight,
    registration: (issuer, warn) => clients.find(issuer, warn),
    registrations: (warn) => clients.all(warn),
    saveRegistration: (issuer, registration, warn) => clients.write(issuer, registration, warn),
    claimSignIn: (key, staleMs) => claimSignIn(file, key, staleMs),
  };
  return store;
}

async function claimSignIn(file: CacheFile, key: string, staleMs: number): Promise<SignInClaim> {
  const none = { release: () => {} };
  const { tryAcquireLock, lockHolder } = await import("./lock.js");
  const path = join(file.dir, `sign-in-${key.slice(0, 16)}.lock`);
  try {
    const release = tryAcquireLock(path, staleMs);
    if (release) return { release };
    const holder = lockHolder(path, staleMs);
    // Released between the two looks: ours is the only sign-in now.
    if (!holder) return { release: tryAcquireLock(path, staleMs) ?? none.release };
    return { holder, held: () => lockHolder(path, staleMs)?.at === holder.at };
  } catch {
    // The folder cannot hold a lock (read-only, full): sign in without coordinating.
    return none;
  }
}

let memoryStores = 0;
/** With `cache: false` nothing is written, but a client registered in this process is reused by it. */
const memoryClients = new Map<string, Registration>();
/** Forgets the clients registered in this process's memory (benchmarks start each round afresh). */
export function forgetMemoryClients(): void {
  memoryClients.clear();
}
/** A store that lives as long as its owner (a session with `cache: false`, or one login). */
function memoryStore(): TokenStore {
  const entries = new Map<string, CacheEntry>();
  const clients = memoryClients;
  return {
    id: `memory:${++memoryStores}`,
    secretsIn: "memory",
    read: (key) => entries.get(key),
    entries: () => [...entries],
    write: (key, entry) => {
      if (entry) entries.set(key, entry);
      else entries.delete(key);
      return true;
    },
    lock: async () => () => {},
    inflight: new Map(),
    registration: (issuer) => clients.get(issuer),
    registrations: () => [...clients.values()],
    saveRegistration: (issuer, registration) => {
      if (registration) clients.set(issuer, registration);
      else clients.delete(issuer);
      return true;
    },
    claimSignIn: async () => ({ release: () => {} }),
  };
}

/**
 * One saved sign-in: the call's key in its store, with the call's warnings and lock settings fixed
 * when it is opened, so that code using it says only what it does (`read`, `write`, `withLock`).
 */
export interface SavedSignIn {
  readonly key: string;
  readonly store: TokenStore;
  read(): CacheEntry | undefined;
  /** Replaces (or with undefined removes) the entry; the caller holds the lock. False if it could not be written. */
  write(entry: CacheEntry | undefined): boolean;
  /** Runs `body` under the cross-process lock (or, if the lock file cannot be made, after a warning). */
  withLock<T>(body: () => Promise<T> | T): Promise<T>;
  /** `write` under the lock. */
  save(entry: CacheEntry | undefined): Promise<void>;
  /** `body` once for this sign-in in this process at a time (per `task`): overlapping callers share its result. */
  once<T>(body: () => Promise<T>, task?: string): Promise<T>;
  /** The `task` under way for this sign-in in this process, if any (see `once`). */
  underWay<T>(task?: string): Promise<T> | undefined;
}

export function openSignIn(store: TokenStore, config: Pick<ResolvedConfig, "requestTimeoutMs" | "signal">, key: string, warn: Warn): SavedSignIn {
  const signIn: SavedSignIn = {
    key,
    store,
    read: () => store.read(key, warn),
    write: (entry) => store.write(key, entry, warn),
    async withLock(body) {
      const release = await lockOrWarn(config, store, warn);
      try {
        return await body();
      } finally {
        await release();
      }
    },
    save: (entry) => signIn.withLock(() => void signIn.write(entry)),
    once<T>(body: () => Promise<T>, task?: string): Promise<T> {
      const id = task ? `${task}:${key}` : key;
      let shared = store.inflight.get(id) as Promise<T> | undefined;
      if (!shared) {
        shared = body().finally(() => store.inflight.delete(id));
        store.inflight.set(id, shared);
      }
      return shared;
    },
    underWay: <T>(task?: string) => store.inflight.get(task ? `${task}:${key}` : key) as Promise<T> | undefined,
  };
  return signIn;
}

/** The lock, or (if the lock file cannot be made) a warning and no coordination. */
async function lockOrWarn(config: Pick<ResolvedConfig, "requestTimeoutMs" | "signal">, store: TokenStore, warn: Warn): Promise<() => void | Promise<void>> {
  try {
    // A holder keeps the lock for at most one token request; after that it is abandoned.
    return await store.lock({ staleMs: config.requestTimeoutMs + 10_000, signal: config.signal });
  } catch (error) {
    if (config.signal?.aborted) throw abortedError("while waiting for another kernel's refresh", error);
    if (error instanceof LoginError) throw error; // the secret store refused (store: "keychain")
    warn(
      `Could not lock the token cache in ${dirname(store.id)} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); going on without coordinating with other kernels. Check that folder (space, permissions), or set \`cacheDir\`.`,
    );
    return () => {};
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
    clientAuthMethod: tokens.clientAuthMethod ?? previous?.clientAuthMethod,
    resource: config.resourceIndicator ?? previous?.resource,
    grant: previous?.grant,
    otherApis: previous?.otherApis,
  };
}

/**
 * A refresh of one sign-in whose refresh token others hold too (the same `grant`) rotated it: the
 * new one is saved in all of them, so that none ever sends the spent one (oidc-provider and others
 * end the whole grant when a rotated refresh token comes back). The caller holds the lock.
 */
export function shareRefreshToken(signIn: SavedSignIn, grant: string, refreshToken: string | undefined, warn: Warn): void {
  for (const [key, entry] of signIn.store.entries(warn)) {
    if (key !== signIn.key && entry.grant === grant && entry.refreshToken !== refreshToken) signIn.store.write(key, { ...entry, refreshToken }, warn);
  }
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
