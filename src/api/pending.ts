import { INSPECT } from "../util/inspect.js";
import { LoginError } from "../errors.js";
import { completePastedSignIn, showPasteLink, type PasteLink } from "../flows/paste.js";
import type { LoginReporter } from "../notebook/reporter.js";
import type { LoginConfig, ResolvedConfig } from "../options/types.js";
import { resolveMetadata } from "../protocol/discovery.js";
import type { ServerMetadata } from "../protocol/metadata.js";
import { SecretSet } from "../secrets.js";
import { toEntry } from "../store/token-store.js";
import { resolveOrReport, runCall, successInfo } from "./call.js";
import { dpopNeedsSession } from "./login.js";
import { interactionRequired } from "./obtain.js";
import type { PendingLogin } from "./types.js";
import { createAuthHeaders, type AuthHeaders } from "./headers.js";

/** {@link beginLogin}: shows the link and returns the pending sign-in. */
export async function startPendingLogin(config: LoginConfig): Promise<PendingLogin> {
  const resolved = resolveOrReport(config);
  const secrets = new SecretSet();
  return runCall(resolved, { secrets, keepReporter: true }, async (ctx) => {
    const { reporter } = ctx;
    if (resolved.grant === "client_credentials") {
      throw new LoginError("INVALID_CONFIG", '`grant: "client_credentials"` needs no browser: call `login()` (or `session()`) with it.');
    }
    if (resolved.dpop) throw dpopNeedsSession("beginLogin()");
    if (!resolved.interactive) throw interactionRequired(resolved, false);
    // By `resource`: the API says where and with which client (the saved sign-in stays keyed by the API).
    const target = resolved.resource ? await (await import("../flows/api.js")).locateApi(ctx, ctx.signIn) : undefined;
    const config = target?.config ?? resolved;
    const as = target?.as ?? (await resolveMetadata(resolved));
    const link = await showPasteLink({ config, reporter, secrets }, as, false);
    return new PendingSignIn({ key: resolved, config, as, link, secrets, firstReporter: reporter });
  });
}

interface PendingState {
  /** The options as given: they name the saved sign-in. */
  key: ResolvedConfig;
  /** The options the sign-in runs with (by `resource`: the server and client found). */
  config: ResolvedConfig;
  as: ServerMetadata;
  link: PasteLink;
  secrets: SecretSet;
  firstReporter: LoginReporter;
}

class PendingSignIn implements PendingLogin {
  readonly url: string;
  readonly expiresAt: number;
  readonly #s: PendingState;
  #used = false;

  constructor(state: PendingState) {
    this.#s = state;
    this.url = state.link.url;
    this.expiresAt = state.link.deadline;
  }

  async complete(redirectedTo: string): Promise<AuthHeaders> {
    const s = this.#s;
    return runCall(s.key, { secrets: s.secrets }, async ({ reporter, signIn }) => {
      if (this.#used) {
        throw new LoginError(
          "INVALID_AUTHORIZATION_RESPONSE",
          "This sign-in was already completed (or its code already tried). Run beginLogin() again for a new one.",
        );
      }
      if (Date.now() > s.link.deadline) {
        throw new LoginError("TIMEOUT", `This sign-in expired (it was valid for ${s.config.timeoutMs / 1000} s). Run beginLogin() again.`);
      }
      const tokens = await completePastedSignIn({ config: s.config, reporter, secrets: s.secrets }, s.as, s.link, redirectedTo, () => (this.#used = true));
      const entry = toEntry(s.config, s.as, tokens, undefined);
      await signIn.save(entry);
      // The first cell's link is overwritten too: nothing of this sign-in stays there.
      s.firstReporter.succeeded(successInfo(entry, "sign-in"));
      reporter.succeeded(successInfo(entry, "sign-in"));
      return createAuthHeaders(entry.accessToken);
    });
  }

  [INSPECT](): string {
    return `PendingLogin { issuer: '${this.#s.as.issuer}', expiresAt: ${new Date(this.expiresAt).toISOString()} }`;
  }

  toJSON(): { issuer: string; expiresAt: number } {
    return { issuer: this.#s.as.issuer, expiresAt: this.expiresAt };
  }
}
