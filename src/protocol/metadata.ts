import * as oauth from "oauth4webapi";
import { LoginError } from "../errors.js";
import { isSafeEndpoint } from "../util/urls.js";

/** The authorization server's metadata (RFC 8414 / OpenID Connect Discovery), as oauth4webapi reads it. */
export type ServerMetadata = oauth.AuthorizationServer;

/**
 * Checking metadata, without any network: the discovered document (its issuer is compared by
 * oauth4webapi, its endpoints here), or the metadata built from explicit endpoints.
 */

/** Metadata for a server without discovery (GitHub): the endpoints as given. */
export function explicitMetadata(config: { issuerId: string | undefined }, authorizationEndpoint: URL | undefined, tokenEndpoint: URL): ServerMetadata {
  return {
    // Without an issuer there is nothing to compare `iss` with but the endpoint's origin; a
    // server that sends another `iss` is reported as ISSUER_MISMATCH, telling the user to set it.
    issuer: config.issuerId ?? (authorizationEndpoint ?? tokenEndpoint).origin,
    ...(authorizationEndpoint ? { authorization_endpoint: authorizationEndpoint.href } : {}),
    token_endpoint: tokenEndpoint.href,
  };
}

/**
 * The discovered document must offer the code flow, and every endpoint it gives must be https
 * (plain http on loopback): the sign-in link becomes a link in the notebook and the code goes to
 * the token endpoint, so never javascript:, data: or plain http to another host.
 */
export function checkMetadata(metadata: ServerMetadata, where: string): ServerMetadata {
  for (const field of ["authorization_endpoint", "token_endpoint"] as const) {
    if (typeof metadata[field] !== "string") {
      throw new LoginError(
        "DISCOVERY_FAILED",
        `The metadata at ${where} has no \`${field}\`: this server does not offer the authorization code flow there. Give \`authorizationEndpoint\` and \`tokenEndpoint\` if you know them.`,
      );
    }
  }
  for (const field of [
    "authorization_endpoint",
    "token_endpoint",
    "revocation_endpoint",
    "device_authorization_endpoint",
    "pushed_authorization_request_endpoint",
  ] as const) {
    const value = metadata[field];
    if (value !== undefined && !isSafeEndpoint(value)) {
      throw new LoginError(
        "DISCOVERY_FAILED",
        `The metadata at ${where} gives \`${field}\` ${JSON.stringify(String(value).slice(0, 200))}, which is not an https URL (plain http is accepted only for loopback hosts); it was not used.`,
      );
    }
  }
  return metadata;
}

/** Why oauth4webapi refused the document: another issuer (mix-up), or not a discovery document. */
export function documentError(cause: unknown, issuer: URL, where: string): LoginError {
  if (cause instanceof LoginError) return cause;
  if (cause instanceof oauth.OperationProcessingError && cause.code === oauth.JSON_ATTRIBUTE_COMPARISON) {
    const actual = (cause.cause as { body?: { issuer?: unknown } } | undefined)?.body?.issuer;
    return new LoginError(
      "ISSUER_MISMATCH",
      `The metadata at ${where} names the issuer ${JSON.stringify(actual)}, not ${JSON.stringify(issuer.href)}. ` +
        `If that is the server you meant, set \`issuer\` to ${JSON.stringify(actual)} exactly; otherwise the metadata is not from your provider.`,
      { cause },
    );
  }
  return new LoginError(
    "DISCOVERY_FAILED",
    `The metadata at ${where} is not a valid OAuth/OpenID Connect discovery document (${(cause as Error).message}). ` +
      "Check `issuer`, or give `authorizationEndpoint` and `tokenEndpoint` instead.",
    { cause },
  );
}

/**
 * `dpop: true` needs a server that says it verifies DPoP proofs (RFC 9449 §5.1) with ES256; any
 * other server would ignore the proof and issue a Bearer token, which is exactly what `dpop`
 * is there to avoid. INVALID_CONFIG naming DPoP and the option.
 */
export function checkDpopSupport(metadata: ServerMetadata): void {
  const algs = metadata.dpop_signing_alg_values_supported;
  if (Array.isArray(algs) && algs.includes("ES256")) return;
  throw new LoginError(
    "INVALID_CONFIG",
    Array.isArray(algs)
      ? `\`dpop: true\`: ${metadata.issuer} verifies DPoP proofs (RFC 9449) only with ${JSON.stringify(algs.slice(0, 10))}, not ES256, the algorithm tslab-oauth signs with. Remove \`dpop\` to sign in with Bearer tokens.`
      : `\`dpop: true\`: ${metadata.issuer} does not advertise DPoP (no \`dpop_signing_alg_values_supported\` in its metadata, RFC 9449 §5.1), so it would issue Bearer tokens that anyone holding them can use. Remove \`dpop\` to sign in with Bearer tokens, or ask its administrators to enable DPoP.`,
  );
}
