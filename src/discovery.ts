import * as oauth from "oauth4webapi";
import type { ResolvedConfig } from "./config.js";
import { LoginError } from "./errors.js";
import { isTimeout, networkReason, type Transport } from "./http.js";

export type ServerMetadata = oauth.AuthorizationServer;

/**
 * The server's metadata: from the explicit endpoints when both are given (servers without
 * discovery, such as GitHub), else discovered from the issuer, OpenID Connect Discovery first and
 * RFC 8414 second. The discovered `issuer` must equal the configured one (mix-up defence).
 */
export async function resolveMetadata(config: ResolvedConfig, transport: Transport): Promise<ServerMetadata> {
  if (config.authorizationEndpoint && config.tokenEndpoint) {
    return {
      // Without an issuer there is nothing to compare `iss` with but the endpoint's origin; a
      // server that sends another `iss` is reported as ISSUER_MISMATCH, telling the user to set it.
      issuer: config.issuerId ?? config.authorizationEndpoint.origin,
      authorization_endpoint: config.authorizationEndpoint.href,
      token_endpoint: config.tokenEndpoint.href,
    };
  }
  const issuer = config.issuer!;
  const tried: string[] = [];
  for (const algorithm of ["oidc", "oauth2"] as const) {
    let response: Response;
    const where = wellKnownUrl(issuer, algorithm);
    try {
      response = await oauth.discoveryRequest(issuer, { algorithm, ...transport.options });
    } catch (cause) {
      throw discoveryNetworkError(issuer, where, cause, transport);
    }
    if (response.status !== 200) {
      tried.push(`${where} answered HTTP ${response.status}`);
      await response.body?.cancel().catch(() => {});
      continue;
    }
    try {
      const metadata = await oauth.processDiscoveryResponse(issuer, response);
      for (const field of ["authorization_endpoint", "token_endpoint"] as const) {
        if (typeof metadata[field] !== "string") {
          throw new LoginError(
            "DISCOVERY_FAILED",
            `The metadata at ${where} has no \`${field}\`: this server does not offer the authorization code flow there. Give \`authorizationEndpoint\` and \`tokenEndpoint\` if you know them.`,
          );
        }
      }
      return metadata;
    } catch (cause) {
      if (cause instanceof LoginError) throw cause;
      if (cause instanceof oauth.OperationProcessingError && cause.code === oauth.JSON_ATTRIBUTE_COMPARISON) {
        const actual = (cause.cause as { body?: { issuer?: unknown } } | undefined)?.body?.issuer;
        throw new LoginError(
          "ISSUER_MISMATCH",
          `The metadata at ${where} names the issuer ${JSON.stringify(actual)}, not ${JSON.stringify(issuer.href)}. ` +
            `If that is the server you meant, set \`issuer\` to ${JSON.stringify(actual)} exactly; otherwise the metadata is not from your provider.`,
          { cause },
        );
      }
      throw new LoginError(
        "DISCOVERY_FAILED",
        `The metadata at ${where} is not a valid OAuth/OpenID Connect discovery document (${(cause as Error).message}). ` +
          "Check `issuer`, or give `authorizationEndpoint` and `tokenEndpoint` instead.",
        { cause },
      );
    }
  }
  throw new LoginError(
    "DISCOVERY_FAILED",
    `No discovery document for ${issuer.href}: ${tried.join("; ")}. ` +
      "Check `issuer` (it must be the exact issuer identifier, path included), or give `authorizationEndpoint` and `tokenEndpoint` for a server without discovery.",
    { status: Number(/HTTP (\d+)/.exec(tried.at(-1) ?? "")?.[1]) || undefined },
  );
}

function wellKnownUrl(issuer: URL, algorithm: "oidc" | "oauth2"): string {
  const url = new URL(issuer.href);
  if (algorithm === "oidc") {
    url.pathname = `${url.pathname}/.well-known/openid-configuration`.replace("//", "/");
  } else {
    url.pathname = url.pathname === "/" ? "/.well-known/oauth-authorization-server" : `/.well-known/oauth-authorization-server${url.pathname}`;
  }
  return url.href;
}

function discoveryNetworkError(issuer: URL, where: string, cause: unknown, transport: Transport): LoginError {
  if (isTimeout(cause)) {
    return new LoginError(
      "DISCOVERY_FAILED",
      `${where} did not answer within ${transport.requestTimeoutMs / 1000} s. Check that ${issuer.host} is reachable, or raise \`requestTimeout\`.`,
      { cause },
    );
  }
  const reason = networkReason(cause);
  return new LoginError(
    "DISCOVERY_FAILED",
    `Could not reach ${where} (${reason}). Check \`issuer\` and your network connection.`,
    { cause },
  );
}
