import * as oauth from "oauth4webapi";
import { isLoopbackHost, type ResolvedConfig } from "../options/config.js";
import { LoginError } from "../errors.js";
import { createTransport, isTimeout, isTransportFailure, networkReason, tooLarge, type Transport } from "./http.js";

export type ServerMetadata = oauth.AuthorizationServer;

/**
 * The server's metadata: from the explicit endpoints when both are given (servers without
 * discovery, such as GitHub), else discovered from the issuer, OpenID Connect Discovery first and
 * RFC 8414 second. The discovered `issuer` must equal the configured one (mix-up defence).
 */
export async function resolveMetadata(config: ResolvedConfig, transport: Transport): Promise<ServerMetadata> {
  const metadata = await discoverOnce(config, transport);
  return config.revocationEndpoint ? { ...metadata, revocation_endpoint: config.revocationEndpoint.href } : metadata;
}

/** How long a discovered document is reused in this process (a kernel that signs in again). */
export const DISCOVERY_REUSE_MS = 10 * 60_000;
const discovered = new Map<string, { metadata: ServerMetadata; until: number }>();

/** Discovery, reused for a while per issuer: the requests cost a round trip or two to the provider. */
async function discoverOnce(config: ResolvedConfig, transport: Transport): Promise<ServerMetadata> {
  const key = config.authorizationEndpoint && config.tokenEndpoint ? undefined : config.issuer!.href;
  const known = key ? discovered.get(key) : undefined;
  if (known && known.until > Date.now()) return known.metadata;
  const metadata = await discover(config, transport);
  if (key) discovered.set(key, { metadata, until: Date.now() + DISCOVERY_REUSE_MS });
  return metadata;
}

/** Drops reused metadata: after a failed login (the provider may have changed), and in tests. */
export function forgetMetadata(config?: Pick<ResolvedConfig, "issuer">): void {
  if (config?.issuer) discovered.delete(config.issuer.href);
  else if (!config) discovered.clear();
}

async function discover(config: ResolvedConfig, transport: Transport): Promise<ServerMetadata> {
  if (config.authorizationEndpoint && config.tokenEndpoint) {
    return {
      // Without an issuer there is nothing to compare `iss` with but the endpoint's origin; a
      // server that sends another `iss` is reported as ISSUER_MISMATCH, telling the user to set it.
      issuer: config.issuerId ?? config.authorizationEndpoint.origin,
      authorization_endpoint: config.authorizationEndpoint.href,
      token_endpoint: config.tokenEndpoint.href,
    };
  }
  // Callers that built the transport without the `ca` option still get it.
  if (config.ca && !transport.ca) transport = createTransport(transport.loginSignal, transport.requestTimeoutMs, config.ca);
  const issuer = config.issuer!;
  const tried: string[] = [];
  for (const algorithm of ["oidc", "oauth2"] as const) {
    let response: Response;
    const where = wellKnownUrl(issuer, algorithm);
    try {
      response = await oauth.discoveryRequest(issuer, { algorithm, ...transport.options });
      // One redirect within the issuer's origin is followed: django-oauth-toolkit serves its
      // document at ".../openid-configuration/" and Django's APPEND_SLASH redirects there. The
      // document's `issuer` is still compared with the configured one below.
      const sameOrigin = sameOriginRedirect(response, issuer, where);
      if (sameOrigin) {
        await response.body?.cancel().catch(() => {});
        response = await transport.options[oauth.customFetch](sameOrigin, {
          method: "GET",
          headers: { accept: "application/json" },
          body: undefined,
          redirect: "manual",
          signal: transport.options.signal(),
        });
      }
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
      // The sign-in link becomes a link in the notebook and the code goes to the token endpoint:
      // the same rule as for the options (https, or http on loopback), never javascript: or data:.
      for (const field of ["authorization_endpoint", "token_endpoint", "revocation_endpoint", "device_authorization_endpoint"] as const) {
        const value = metadata[field];
        if (value !== undefined && !isSafeEndpoint(value)) {
          throw new LoginError(
            "DISCOVERY_FAILED",
            `The metadata at ${where} gives \`${field}\` ${JSON.stringify(String(value).slice(0, 200))}, which is not an https URL (plain http is accepted only for loopback hosts); it was not used.`,
          );
        }
      }
      return metadata;
    } catch (cause) {
      if (cause instanceof LoginError) throw cause;
      // The body could not be read (timeout, oversized, connection cut): the request failed.
      if (isTransportFailure(cause)) throw discoveryNetworkError(issuer, where, cause, transport);
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

/** An https URL, or plain http on a loopback host: what may become a link or receive a request. */
export function isSafeEndpoint(value: unknown): boolean {
  if (typeof value !== "string" || !URL.canParse(value)) return false;
  const url = new URL(value);
  return url.protocol === "https:" || (url.protocol === "http:" && isLoopbackHost(url.hostname));
}

/** The target of a redirect answer that stays on the issuer's origin, else undefined. */
function sameOriginRedirect(response: Response, issuer: URL, requested: string): string | undefined {
  if (![301, 302, 307, 308].includes(response.status)) return undefined;
  const location = response.headers.get("location");
  if (!location) return undefined;
  const target = new URL(location, response.url || requested);
  return target.origin === issuer.origin ? target.href : undefined;
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
  if (tooLarge(cause)) {
    return new LoginError("DISCOVERY_FAILED", `${where} sent an oversized answer (${networkReason(cause)}): it is not a discovery document. Check \`issuer\`.`, { cause });
  }
  const reason = networkReason(cause);
  return new LoginError(
    "DISCOVERY_FAILED",
    `Could not reach ${where} (${reason}). Check \`issuer\` and your network connection.`,
    { cause },
  );
}
