import { isFresh, type CacheEntry, type TokenCache, type Warn } from "../store/cache.js";
import type { ResolvedConfig } from "../options/config.js";
import type { ServerMetadata } from "../protocol/discovery.js";
import { LoginError } from "../errors.js";
import { createTransport } from "../protocol/http.js";
import { remoteReason } from "../flows/detect.js";
import { runDeviceLogin } from "../flows/device.js";
import { resolveMetadata } from "../protocol/discovery.js";
import { displayName, runLogin } from "../flows/loopback/flow.js";
import type { LoginReporter, TokenSource } from "../notebook/reporter.js";
import type { SecretSet } from "../secrets.js";
import { refreshTokens, tokenContext, type TokenSet } from "../protocol/token.js";

/**
 * Getting a usable token: the cached one as is, else a silent refresh, else the browser. Shared by
 * login(), session() and logout().
 */

/** Where entries live: the file cache, or (with `cache: false`) a session's memory. */
export interface TokenStore {
  readonly id: string;
  read(key: string, warn: Warn): CacheEntry | undefined;
  write(key: string, entry: CacheEntry | undefined, warn: Warn): boolean;
  lock(options: { staleMs: number; signal?: AbortSignal | undefined }): Promise<() => void>;
}

export function fileStore(cache: TokenCache): TokenStore {
  return {
    id: cache.path,
    read: (key, warn) => cache.read(key, warn),
    write: (key, entry, warn) => cache.write(key, entry, warn),
    lock: (options) => cache.lock(options),
  };
}

let memoryStores = 0;
/** A store that lives as long as its owner (a session with `cache: false`, or one login). */
export function memoryStore(): TokenStore {
  const entries = new Map<string, CacheEntry>();
  return {
    id: `memory:${++memoryStores}`,
    read: (key) => entries.get(key),
    write: (key, entry) => {
      if (entry) entries.set(key, entry);
      else entries.delete(key);
      return true;
    },
    lock: async () => () => {},
  };
}

export interface Obtained {
  entry: CacheEntry;
  source: TokenSource;
}

export interface ObtainOptions {
  /** Ignore the stored entry (forceLogin). */
  skipStored?: boolean;
  /** An access token the resource server refused (401): never return it again. */
  rejected?: string | undefined;
}

/** Overlapping refreshes of one entry in this process share one promise. */
const inflight = new Map<string, Promise<Obtained | undefined>>();

export async function obtainTokens(
  config: ResolvedConfig,
  store: TokenStore,
  key: string,
  reporter: LoginReporter,
  secrets: SecretSet,
  options: ObtainOptions = {},
): Promise<Obtained> {
  const warn: Warn = (message) => reporter.warn(message);
  if (config.signal?.aborted) throw new LoginError("ABORTED", "The login was aborted before it started.", { cause: config.signal.reason });
  const stored = options.skipStored ? undefined : store.read(key, warn);
  if (stored) {
    addSecrets(secrets, stored);
    if (isFresh(stored) && stored.accessToken !== options.rejected) return { entry: stored, source: "cache" };
    if (stored.refreshToken) {
      const id = `${store.id}#${key}`;
      let shared = inflight.get(id);
      if (!shared) {
        shared = refreshUnderLock(config, store, key, reporter, secrets, options.rejected).finally(() => inflight.delete(id));
        inflight.set(id, shared);
      }
      const refreshed = await shared;
      if (refreshed) return refreshed;
    }
  }

  const { tokens, as } = await runInteractive(config, reporter, secrets);
  const entry = toEntry(config, as, tokens, undefined);
  await writeLocked(config, store, key, entry, warn);
  return { entry, source: "sign-in" };
}

/**
 * The browser sign-in, by the flow the options ask for, or (`auto`) the one that can work where
 * the kernel runs. The cell says which, why, and how to force the other.
 */
async function runInteractive(config: ResolvedConfig, reporter: LoginReporter, secrets: SecretSet): Promise<{ tokens: TokenSet; as: ServerMetadata }> {
  if (config.flow === "manual") {
    throw new LoginError(
      "INVALID_CONFIG",
      '`flow: "manual"` takes two cells: `const pending = await beginLogin(config)` shows the link, then `const headers = await pending.complete("<the address your browser ended on>")`.',
    );
  }
  const as = await resolveMetadata(config, createTransport(config.signal, config.requestTimeoutMs));
  if (config.flow === "device") return runDeviceLogin(config, as, reporter, secrets);
  if (config.flow === "auto") {
    const remote = remoteReason();
    if (remote && as.device_authorization_endpoint) {
      reporter.notice(`Using the device flow because ${remote}: a redirect to this machine could not reach it. To force the redirect, pass \`flow: "loopback"\`.`);
      return runDeviceLogin(config, as, reporter, secrets);
    }
    if (remote) {
      reporter.event(
        `${remote[0]!.toUpperCase()}${remote.slice(1)}, and the server offers no device flow: if your browser cannot reach this machine, the sign-in will not come back here. Then interrupt this cell and use beginLogin() (two cells).`,
      );
    }
  }
  return runLogin(config, reporter, secrets, as);
}

/**
 * Refreshes under the cross-process lock. The entry is read again once the lock is held: another
 * kernel may have refreshed meanwhile (its token is used, and its rotated refresh token never sent
 * twice: oidc-provider and others revoke the whole grant on reuse) or signed out.
 * Resolves undefined when only the browser can help (entry gone, or `invalid_grant`).
 */
async function refreshUnderLock(
  config: ResolvedConfig,
  store: TokenStore,
  key: string,
  reporter: LoginReporter,
  secrets: SecretSet,
  rejected: string | undefined,
): Promise<Obtained | undefined> {
  const warn: Warn = (message) => reporter.warn(message);
  reporter.progress(`Refreshing the token for ${config.issuerId ?? config.tokenEndpoint?.origin}…`);
  const release = await lockOrWarn(config, store, warn);
  try {
    const current = store.read(key, warn);
    if (!current) return undefined;
    addSecrets(secrets, current);
    if (isFresh(current) && current.accessToken !== rejected) return { entry: current, source: "cache" };
    if (!current.refreshToken) return undefined;
    let tokens: TokenSet;
    try {
      tokens = await refreshTokens(tokenContext(config, current.metadata), current.refreshToken, current.sub);
    } catch (error) {
      secrets.scrubError(error);
      if (error instanceof LoginError && error.error === "invalid_grant") {
        store.write(key, undefined, warn);
        reporter.notice(`The saved sign-in to ${current.metadata.issuer} was refused by the server (invalid_grant: it expired or was revoked), so you need to sign in again in the browser.`);
        return undefined;
      }
      throw abortedOr(config, error);
    }
    addSecrets(secrets, tokens);
    const next = toEntry(config, current.metadata, tokens, current);
    store.write(key, next, warn);
    return { entry: next, source: "refresh" };
  } finally {
    release();
  }
}

export async function writeLocked(config: ResolvedConfig, store: TokenStore, key: string, entry: CacheEntry | undefined, warn: Warn): Promise<void> {
  const release = await lockOrWarn(config, store, warn);
  try {
    store.write(key, entry, warn);
  } finally {
    release();
  }
}

/** The lock, or (if the lock file cannot be made) a warning and no coordination. */
export async function lockOrWarn(config: ResolvedConfig, store: TokenStore, warn: Warn): Promise<() => void> {
  try {
    // A holder keeps the lock for at most one token request; after that it is abandoned.
    return await store.lock({ staleMs: config.requestTimeoutMs + 10_000, signal: config.signal });
  } catch (error) {
    if (config.signal?.aborted) throw new LoginError("ABORTED", "The login was aborted while waiting for another kernel's refresh.", { cause: error });
    warn(`Could not lock the token cache (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); going on without coordinating with other kernels.`);
    return () => {};
  }
}

function abortedOr(config: ResolvedConfig, error: unknown): unknown {
  if (config.signal?.aborted && !(error instanceof LoginError && error.code === "ABORTED")) {
    return new LoginError("ABORTED", "The login was aborted during the token refresh.", { cause: error });
  }
  return error;
}

export function toEntry(config: ResolvedConfig, as: ServerMetadata, tokens: TokenSet, previous: CacheEntry | undefined): CacheEntry {
  return {
    format: 1,
    issuer: as.issuer,
    clientId: config.clientId,
    scopes: [...config.scopes].sort(),
    params: config.extraParams,
    profile: config.profile,
    accessToken: tokens.accessToken,
    tokenType: "Bearer",
    expiresAt: tokens.expiresAt,
    obtainedAt: Date.now(),
    // RFC 6749 §6: without a new refresh token in the response, the old one stays valid.
    refreshToken: tokens.refreshToken ?? previous?.refreshToken,
    scope: tokens.scope ?? previous?.scope,
    sub: tokens.claims?.sub ?? previous?.sub,
    name: displayName(tokens) ?? previous?.name,
    metadata: as,
  };
}

function addSecrets(secrets: SecretSet, tokens: { accessToken: string; refreshToken: string | undefined }): void {
  secrets.add(tokens.accessToken);
  secrets.add(tokens.refreshToken);
}
