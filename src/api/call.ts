import { asLoginError, type LoginError } from "../errors.js";
import { createReporter, inNotebook } from "../notebook/create.js";
import type { LoginReporter, SuccessInfo, TokenSource } from "../notebook/reporter.js";
import { resolveConfig } from "../options/resolve.js";
import { savedProfiles } from "../store/profiles.js";
import type { LoginConfig, ResolvedConfig } from "../options/types.js";
import { forgetMetadata } from "../protocol/metadata-memo.js";
import type { ProxyChoice } from "../util/proxy.js";
import { SecretSet } from "../secrets.js";
import { cacheKey, type CacheEntry } from "../store/cache.js";
import { openSignIn, storeFor, type SavedSignIn, type TokenStore } from "../store/token-store.js";

/**
 * The one way into the library, shared by every exported call: options validated (a bad one is
 * shown in the cell like any failure), a context built once and passed down, and one failure path
 * (every error leaves as a LoginError, scrubbed of secrets, shown in the cell; reused metadata is
 * dropped, since the provider may have changed).
 */
export interface CallContext {
  config: ResolvedConfig;
  reporter: LoginReporter;
  /** Every secret this call has seen: they are scrubbed from any error that leaves it. */
  secrets: SecretSet;
  /** The saved sign-in these options name, in the store they name. */
  signIn: SavedSignIn;
}

export interface CallOptions {
  /** The caller's own secret set (a session's or a pending sign-in's), else a new one. */
  secrets?: SecretSet | undefined;
  /** The caller's own reporter (a session's silent one), else the cell's display. */
  reporter?: LoginReporter | undefined;
  /** The store to use, else the one the options name. */
  store?: TokenStore | undefined;
  /** Keep the reporter after success: the display outlives the call (beginLogin()). */
  keepReporter?: boolean;
}

/** Validates the options; a bad one is shown in the cell (what to change, no stack trace) and thrown. */
export function resolveOrReport(input: LoginConfig): ResolvedConfig {
  try {
    return resolveConfig(input, { ...savedProfiles, inNotebook: inNotebook() });
  } catch (caught) {
    const reporter = createReporter({ quiet: false });
    try {
      throw reportFailure(caught, reporter, new SecretSet());
    } finally {
      void reporter.flush();
      reporter.dispose();
    }
  }
}

/** Runs one call's `body` with its context; see {@link CallContext}. */
export async function runCall<T>(config: ResolvedConfig, options: CallOptions, body: (ctx: CallContext) => Promise<T>): Promise<T> {
  const secrets = options.secrets ?? new SecretSet();
  secrets.add(config.clientSecret);
  for (const proxy of proxies(config)) {
    if (!proxy.url.username && !proxy.url.password) continue; // nothing secret in it
    secrets.add(proxy.url.href);
    secrets.add(proxy.url.password);
    try {
      secrets.add(decodeURIComponent(proxy.url.password));
    } catch {
      // not percent-encoded text: the raw value is covered above
    }
  }
  const reporter = options.reporter ?? createReporter(config);
  let keep = false;
  try {
    const store = options.store ?? (await storeFor(config));
    const signIn = openSignIn(store, config, cacheKey(config), (message) => reporter.warn(message));
    const result = await body({ config, reporter, secrets, signIn });
    keep = options.keepReporter === true;
    return result;
  } catch (caught) {
    forgetMetadata(config);
    throw reportFailure(caught, reporter, secrets, config.signal);
  } finally {
    await reporter.flush();
    if (!keep) reporter.dispose();
  }
}

function reportFailure(caught: unknown, reporter: LoginReporter, secrets: SecretSet, signal?: AbortSignal): LoginError {
  const error = secrets.scrubError(asLoginError(caught, signal));
  reporter.failed(error);
  return error;
}

/** The proxies the options or the environment name: their URLs may carry credentials. */
function proxies(config: ResolvedConfig): ProxyChoice[] {
  const settings = config.proxy;
  if (settings.kind === "fixed") return [settings.proxy];
  if (settings.kind === "environment") return [settings.https, settings.http].filter((p): p is ProxyChoice => p !== undefined);
  return [];
}

/** The cell's last line after a sign-in: who, where, for how long. */
export function successInfo(entry: CacheEntry, source: TokenSource): SuccessInfo {
  // Signed in for an API (RFC 8707): named first, with the server that signed in.
  const where =
    entry.resource && URL.canParse(entry.resource) ? `${new URL(entry.resource).host} (at ${new URL(entry.metadata.issuer).host})` : entry.metadata.issuer;
  return { issuer: where, name: entry.name, expiresAt: entry.expiresAt, source };
}
