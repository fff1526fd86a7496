import { timingSafeEqual } from "node:crypto";
import * as oauth from "oauth4webapi";
import { LoginError } from "../errors.js";
import type { SecretSet } from "../secrets.js";
import { clip } from "../util/text.js";
import type { ServerMetadata } from "./metadata.js";
import { authorizationDeniedError } from "./oauth-errors.js";
import { choosePkceMethod, createPkce } from "./pkce.js";

/**
 * The authorization request (RFC 6749 §4.1.1 with PKCE, RFC 7636, and OpenID Connect's `nonce`)
 * and the checks on the response that comes back (RFC 6749 §4.1.2, RFC 9207 `iss`), shared by the
 * loopback flow and the two-cell flow.
 */

export interface AuthorizationSecrets {
  pkce: { verifier: string; challenge: string; method: string };
  state: string;
  nonce: string | undefined;
}

/**
 * PKCE (S256 unless the server lists only plain, or `pkceMethod` asks for plain), `state`, and
 * `nonce` with `openid`. Using plain is never silent: `warn` says so in the cell.
 */
/** What the authorization request asks for, in the protocol's terms. */
export interface AuthorizationRequestSettings {
  clientId: string;
  scopes: readonly string[];
  /** Added as they are (`audience`, `resource`, `prompt`...). */
  extraParams: Record<string, string>;
  pkceMethod: "S256" | "plain" | undefined;
  /** Ask for the login page even when the provider has a session (`prompt=login`). */
  forceLogin: boolean;
  /** The API the token is for (RFC 8707 §2.1). */
  resourceIndicator: string | undefined;
}

export async function authorizationSecrets(
  as: ServerMetadata,
  config: Pick<AuthorizationRequestSettings, "pkceMethod" | "scopes">,
  secrets: SecretSet,
  warn: (message: string) => void,
): Promise<AuthorizationSecrets> {
  const method = choosePkceMethod(as.code_challenge_methods_supported, config.pkceMethod);
  if (typeof method !== "string") throw method.error;
  if (method === "plain") {
    warn(
      config.pkceMethod === "plain"
        ? "PKCE method plain, as asked with `pkceMethod`: the code challenge equals the verifier, so PKCE no longer protects the code against anyone who sees the sign-in link."
        : `${as.issuer} supports only the PKCE method plain (its metadata lists ${JSON.stringify(as.code_challenge_methods_supported)}): the code challenge equals the verifier, so PKCE no longer protects the code against anyone who sees the sign-in link. Ask its administrators to enable S256.`,
    );
  }
  const pkce = await createPkce(method);
  const state = oauth.generateRandomState();
  const nonce = config.scopes.includes("openid") ? oauth.generateRandomNonce() : undefined;
  for (const value of [pkce.verifier, state, nonce]) secrets.add(value);
  return { pkce, state, nonce };
}

export function authorizationUrl(
  as: ServerMetadata,
  config: AuthorizationRequestSettings,
  redirectUri: string,
  pkce: { challenge: string; method: string },
  state: string,
  nonce: string | undefined,
): URL {
  const url = new URL(as.authorization_endpoint!);
  const params = url.searchParams;
  params.set("response_type", "code");
  params.set("client_id", config.clientId);
  params.set("redirect_uri", redirectUri);
  if (config.scopes.length > 0) params.set("scope", config.scopes.join(" "));
  params.set("state", state);
  params.set("code_challenge", pkce.challenge);
  params.set("code_challenge_method", pkce.method);
  if (nonce) params.set("nonce", nonce);
  // forceLogin asks for the login page even when the provider has a session (OIDC Core §3.1.2.1).
  if (config.forceLogin) params.set("prompt", "login");
  for (const [key, value] of Object.entries(config.extraParams)) params.set(key, value);
  if (config.resourceIndicator) params.set("resource", config.resourceIndicator);
  return url;
}

/** RFC 6749 §4.1.2 and RFC 9207 checks on the genuine callback (its state already matched). */
export function validateCallback(as: ServerMetadata, client: oauth.Client, params: URLSearchParams, state: string): URLSearchParams {
  let validated: URLSearchParams;
  try {
    validated = oauth.validateAuthResponse(as, client, params, state);
  } catch (cause) {
    if (cause instanceof oauth.AuthorizationResponseError) {
      throw authorizationDeniedError(cause.error, cause.error_description, cause);
    }
    const message = (cause as Error)?.message ?? "";
    if (message.includes('"iss"')) {
      const got = params.get("iss");
      throw new LoginError(
        "ISSUER_MISMATCH",
        got === null
          ? `The redirect came back without the \`iss\` parameter that ${as.issuer} promises (RFC 9207); it may not come from your provider. Run login() again.`
          : `The redirect came back from issuer ${JSON.stringify(clip(got, 200))}, not ${JSON.stringify(as.issuer)}: it may come from another server (mix-up, RFC 9207). Run login() again; if it persists, check \`issuer\`.`,
        { cause },
      );
    }
    throw new LoginError("INVALID_AUTHORIZATION_RESPONSE", `The redirect back from the provider was malformed (${message}). Run login() again.`, { cause });
  }
  const codes = params.getAll("code");
  if (codes.length !== 1 || codes[0] === "") {
    throw new LoginError(
      "INVALID_AUTHORIZATION_RESPONSE",
      codes.length === 0
        ? "The redirect back from the provider carried no authorization code. Run login() again."
        : "The redirect back from the provider carried more than one authorization code. Run login() again.",
    );
  }
  return validated;
}

/** True when the response carries exactly one `state`, equal to ours (compared in constant time). */
export function hasOurState(params: URLSearchParams, state: string): boolean {
  const states = params.getAll("state");
  if (states.length !== 1) return false;
  const x = Buffer.from(states[0]!);
  const y = Buffer.from(state);
  return x.length === y.length && timingSafeEqual(x, y);
}
