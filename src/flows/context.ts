import type { LoginReporter } from "../notebook/reporter.js";
import type { ResolvedConfig } from "../options/types.js";
import { validateCallback, type AuthorizationSecrets } from "../protocol/authorization.js";
import { tokenContext, type TokenContext } from "../protocol/client-request.js";
import type { DpopKey } from "../protocol/dpop.js";
import type { ServerMetadata } from "../protocol/metadata.js";
import { exchangeCode, type TokenSet } from "../protocol/token.js";
import type { SecretSet } from "../secrets.js";

/**
 * What every way of getting tokens shares: the options, where to report, the call's secrets (kept
 * out of every error), and with `dpop` the key the tokens will be bound to. Every flow takes it
 * with the server's metadata and returns a {@link TokenSet}.
 */
export interface FlowContext {
  config: ResolvedConfig;
  reporter: LoginReporter;
  secrets: SecretSet;
  /** With `dpop`, the key the tokens will be bound to. */
  dpop?: DpopKey | undefined;
}

/** What the cell names as the place to sign in: the server, or by `resource` the API and its server. */
export function signInTitle(config: Pick<ResolvedConfig, "resource" | "resourceIndicator">, as: ServerMetadata): string {
  if (!config.resource) return as.issuer;
  return `${new URL(config.resourceIndicator ?? config.resource.href).host} (at ${new URL(as.issuer).host})`;
}

/** The protocol context of a flow's requests: the flow's client, key and secrets, cancelled by `signal`. */
export function flowTokenContext(ctx: FlowContext, as: ServerMetadata, signal: AbortSignal | undefined = ctx.config.signal): TokenContext {
  return tokenContext(ctx.config, as, { signal, dpop: ctx.dpop, secrets: ctx.secrets });
}

/**
 * The tail every redirect-based flow shares (the listener's callback, a pasted address, the second
 * cell of beginLogin()): the code is a secret from here on, the response is checked (`state`, `iss`,
 * RFC 9207), and the code exchanged with this sign-in's verifier and nonce. `spend` is called once
 * the response checked out, just before the code is sent (a code is tried once).
 */
export async function redeemCallback(
  tokens: TokenContext,
  params: URLSearchParams,
  redirectUri: string,
  { pkce, state, nonce }: AuthorizationSecrets,
  spend?: () => void,
): Promise<TokenSet> {
  for (const value of params.getAll("code")) tokens.secrets?.add(value);
  const validated = validateCallback(tokens.as, tokens.client, params, state);
  spend?.();
  return exchangeCode(tokens, validated, redirectUri, pkce.verifier, nonce);
}

/**
 * What to register when the provider refused the redirect URI on its own page (it cannot tell us):
 * the URI without a port for servers that allow any port (RFC 8252 §7.3), and for those that
 * compare ports too, a fixed one to register and pass as `redirectUri`.
 */
export function registerHint(
  config: Pick<ResolvedConfig, "redirect" | "clientId">,
  redirectUri: string,
  lead = "If the provider showed an error about the redirect URI, register",
): string {
  if (config.redirect.port !== 0) return `${lead} ${redirectUri} for client ${JSON.stringify(config.clientId)}.`;
  const portless = redirectUri.replace(/:\d+\//, "/");
  const fixed = redirectUri.replace(/:\d+\//, `:${SUGGESTED_PORT}/`);
  return (
    `${lead} ${portless} (any port) for client ${JSON.stringify(config.clientId)}; ` +
    `if it compares ports too, register a fixed one such as ${fixed} and pass it as \`redirectUri\`.`
  );
}

/** A port from the dynamic range, for providers that want a fixed one (rclone's, which several providers already know). */
const SUGGESTED_PORT = 53682;
