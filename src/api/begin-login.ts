import { randomInt } from "node:crypto";
import { inspect } from "node:util";
import { openBrowser } from "../flows/browser.js";
import { toEntry, writeLocked } from "./obtain.js";
import { cacheKey } from "../store/cache.js";
import type { LoginConfig, ResolvedConfig } from "../options/config.js";
import { forgetMetadata, resolveMetadata, type ServerMetadata } from "../protocol/discovery.js";
import { LoginError } from "../errors.js";
import { createAuthHeaders, type AuthHeaders } from "./headers.js";
import { createTransport } from "../protocol/http.js";
import { authorizationSecrets, authorizationUrl, validateCallback } from "../flows/loopback/flow.js";
import { reportFailure, resolveOrReport, storeFor } from "./login.js";
import { createReporter } from "../notebook/create.js";
import type { LoginReporter } from "../notebook/reporter.js";
import { SecretSet } from "../secrets.js";
import { clip, exchangeCode, tokenContext } from "../protocol/token.js";

/**
 * The two-cell sign-in, for kernels the browser cannot reach when the server has no device flow:
 * tslab has no stdin and runs one cell at a time, so a cell cannot wait for a pasted address.
 * `beginLogin()` shows the sign-in link and returns at once; after signing in, the browser ends on
 * an error page (nothing listens for the redirect), whose address the user pastes into
 * `pending.complete(address)` in the next cell. The same `state`, PKCE and `iss` (RFC 9207) checks
 * as the loopback flow apply, and the tokens go to the same cache.
 *
 * @example
 * ```ts
 * const pending = await beginLogin({ issuer: "https://id.example.com", clientId: "my-app", scopes: ["openid"] });
 * ```
 * ```ts
 * const headers = await pending.complete("http://127.0.0.1:53682/callback?code=...&state=...");
 * ```
 */
export async function beginLogin(config: LoginConfig): Promise<PendingLogin> {
  const resolved = resolveOrReport(config);
  const secrets = new SecretSet();
  secrets.add(resolved.clientSecret);
  const reporter = createReporter(resolved);
  try {
    const as = await resolveMetadata(resolved, createTransport(resolved.signal, resolved.requestTimeoutMs));
    const { pkce, state, nonce } = await authorizationSecrets(as, resolved, secrets, (message) => reporter.warn(message));
    // Nothing listens: any port the provider accepts for a loopback redirect will do (RFC 8252 §7.3).
    const { host, path, search } = resolved.redirect;
    const port = resolved.redirect.port || randomInt(49152, 65536);
    const redirectUri = `http://${host}:${port}${path}${search}`;
    const url = authorizationUrl(as, resolved, redirectUri, pkce, state, nonce);
    const deadline = Date.now() + resolved.timeoutMs;
    reporter.waitingForPaste({ issuer: as.issuer, url: url.href, deadline, redirectUri });
    void openBrowser(url.href, resolved.openBrowser, (message) => reporter.event(message));
    return new PendingLogin({ config: resolved, as, redirectUri, verifier: pkce.verifier, state, nonce, deadline, secrets, firstReporter: reporter, url: url.href });
  } catch (caught) {
    forgetMetadata(resolved);
    throw reportFailure(caught, reporter, secrets);
  }
}

interface PendingState {
  config: ResolvedConfig;
  as: ServerMetadata;
  redirectUri: string;
  verifier: string;
  state: string;
  nonce: string | undefined;
  deadline: number;
  secrets: SecretSet;
  firstReporter: LoginReporter;
  url: string;
}

/** A sign-in started by {@link beginLogin}, waiting for the address the browser ended on. */
export class PendingLogin {
  /** The sign-in page to open. */
  readonly url: string;
  /** Epoch ms after which {@link PendingLogin.complete} refuses (`timeout` after beginLogin). */
  readonly expiresAt: number;
  readonly #s: PendingState;
  #used = false;

  /** @internal use {@link beginLogin}. */
  constructor(state: PendingState) {
    this.#s = state;
    this.url = state.url;
    this.expiresAt = state.deadline;
  }

  /**
   * Finishes the sign-in with the address the browser ended on (the whole URL, with `code` and
   * `state`), and resolves to the headers like login(). A wrong or tampered address is refused
   * without spending the sign-in: paste the right one. Single use.
   */
  async complete(redirectedTo: string): Promise<AuthHeaders> {
    const s = this.#s;
    const reporter = createReporter(s.config);
    try {
      if (this.#used) {
        throw new LoginError("INVALID_AUTHORIZATION_RESPONSE", "This sign-in was already completed (or its code already tried). Run beginLogin() again for a new one.");
      }
      if (Date.now() > s.deadline) {
        throw new LoginError("TIMEOUT", `This sign-in expired (it was valid for ${s.config.timeoutMs / 1000} s). Run beginLogin() again.`);
      }
      const params = this.#callbackParams(redirectedTo);
      for (const value of params.getAll("code")) s.secrets.add(value);
      const ctx = tokenContext(s.config, s.as);
      const validated = validateCallback(s.as, ctx.client, params, s.state);
      this.#used = true;
      const tokens = await exchangeCode(ctx, validated, s.redirectUri, s.verifier, s.nonce);
      for (const value of [tokens.accessToken, tokens.refreshToken, tokens.idToken]) s.secrets.add(value);
      const entry = toEntry(s.config, s.as, tokens, undefined);
      await writeLocked(s.config, await storeFor(s.config), cacheKey(s.config), entry, (message) => reporter.warn(message));
      const info = { issuer: s.as.issuer, name: entry.name, expiresAt: entry.expiresAt, source: "sign-in" as const };
      // The first cell's link is overwritten too: nothing of this sign-in stays there.
      s.firstReporter.succeeded(info);
      reporter.succeeded(info);
      return createAuthHeaders(entry.accessToken);
    } catch (caught) {
      throw reportFailure(caught, reporter, s.secrets);
    } finally {
      reporter.dispose();
    }
  }

  /** The pasted address, checked to be this sign-in's redirect, as callback parameters. */
  #callbackParams(redirectedTo: string): URLSearchParams {
    const expected = new URL(this.#s.redirectUri);
    let url: URL;
    try {
      url = new URL(String(redirectedTo).trim());
    } catch (cause) {
      throw new LoginError(
        "INVALID_AUTHORIZATION_RESPONSE",
        `That is not an address: paste the whole URL from the browser's address bar, starting with ${expected.origin}${expected.pathname}.`,
        { cause },
      );
    }
    if (url.origin !== expected.origin || url.pathname !== expected.pathname) {
      throw new LoginError(
        "INVALID_AUTHORIZATION_RESPONSE",
        `That address (${clip(url.origin + url.pathname, 200)}) is not this sign-in's redirect: paste the address the browser ended on after signing in, starting with ${expected.origin}${expected.pathname}.`,
      );
    }
    const params = url.searchParams;
    if (params.getAll("state").length !== 1 || params.get("state") !== this.#s.state) {
      throw new LoginError(
        "INVALID_AUTHORIZATION_RESPONSE",
        "That address belongs to another sign-in (its `state` does not match this one): paste the address from the tab this sign-in opened, or run beginLogin() again.",
      );
    }
    return params;
  }

  [inspect.custom](): string {
    return `PendingLogin { issuer: '${this.#s.as.issuer}', expiresAt: ${new Date(this.expiresAt).toISOString()} }`;
  }

  toJSON(): { issuer: string; expiresAt: number } {
    return { issuer: this.#s.as.issuer, expiresAt: this.expiresAt };
  }
}
