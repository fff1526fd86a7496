import * as oauth from "oauth4webapi";
import { LoginError } from "../errors.js";
import { createTransport, type NetworkOptions, type Transport } from "./http.js";
import { isTimeout, isTransportFailure, networkReason, tooLarge, viaProxy } from "./network-errors.js";
import { recallMetadata, rememberMetadata } from "./metadata-memo.js";
import { checkMetadata, documentError, explicitMetadata, type ServerMetadata } from "./metadata.js";

/** Where the server is: an issuer to discover, or explicit endpoints (and the revocation endpoint to use). */
export interface ServerLocation {
  issuer: URL | undefined;
  /** The issuer exactly as given. */
  issuerId: string | undefined;
  authorizationEndpoint: URL | undefined;
  tokenEndpoint: URL | undefined;
  revocationEndpoint: URL | undefined;
}

type DiscoverySettings = ServerLocation & NetworkOptions & { signal: AbortSignal | undefined };

/**
 * The server's metadata: from the explicit endpoints when both are given (servers without
 * discovery, such as GitHub), else discovered from the issuer, OpenID Connect Discovery first and
 * RFC 8414 second. The discovered `issuer` must equal the configured one (mix-up defence).
 */
export async function resolveMetadata(config: DiscoverySettings, signal: AbortSignal | undefined = config.signal): Promise<ServerMetadata> {
  const metadata = await discoverOnce(config, createTransport(config, signal));
  return config.revocationEndpoint ? { ...metadata, revocation_endpoint: config.revocationEndpoint.href } : metadata;
}

/** Discovery, reused for a while per issuer: the requests cost a round trip or two to the provider. */
async function discoverOnce(config: ServerLocation, transport: Transport): Promise<ServerMetadata> {
  const issuer = config.tokenEndpoint && (config.authorizationEndpoint || !config.issuer) ? undefined : config.issuer!;
  const known = issuer && recallMetadata(issuer);
  if (known) return known;
  const metadata = await discover(config, transport);
  if (issuer) rememberMetadata(issuer, metadata);
  return metadata;
}

async function discover(config: ServerLocation, transport: Transport): Promise<ServerMetadata> {
  if (config.tokenEndpoint && (config.authorizationEndpoint || !config.issuer))
    return explicitMetadata(config, config.authorizationEndpoint, config.tokenEndpoint);
  const issuer = config.issuer!;
  const tried: string[] = [];
  for (const algorithm of ["oidc", "oauth2"] as const) {
    const where = wellKnownUrl(issuer, algorithm);
    const response = await requestDocument(issuer, algorithm, where, transport);
    if (response.status !== 200) {
      tried.push(`${where} answered HTTP ${response.status}`);
      await response.body?.cancel().catch(() => {});
      continue;
    }
    try {
      return checkMetadata(await oauth.processDiscoveryResponse(issuer, response), where);
    } catch (cause) {
      // The body could not be read (timeout, oversized, connection cut): the request failed.
      if (!(cause instanceof LoginError) && isTransportFailure(cause)) throw discoveryNetworkError(issuer, where, cause, transport);
      throw documentError(cause, issuer, where);
    }
  }
  throw new LoginError(
    "DISCOVERY_FAILED",
    `No discovery document for ${issuer.href}: ${tried.join("; ")}. ` +
      "Check `issuer` (it must be the exact issuer identifier, path included), or give `authorizationEndpoint` and `tokenEndpoint` for a server without discovery.",
    { status: Number(/HTTP (\d+)/.exec(tried.at(-1) ?? "")?.[1]) || undefined },
  );
}

/** Sends one discovery request; the network failing is DISCOVERY_FAILED, any answer is returned. */
async function requestDocument(issuer: URL, algorithm: "oidc" | "oauth2", where: string, transport: Transport): Promise<Response> {
  try {
    const response = await oauth.discoveryRequest(issuer, { algorithm, ...transport.options });
    // One redirect within the issuer's origin is followed: django-oauth-toolkit serves its
    // document at ".../openid-configuration/" and Django's APPEND_SLASH redirects there. The
    // document's `issuer` is still compared with the configured one.
    const sameOrigin = sameOriginRedirect(response, issuer, where);
    if (!sameOrigin) return response;
    await response.body?.cancel().catch(() => {});
    return await transport.options[oauth.customFetch](sameOrigin, {
      method: "GET",
      headers: { accept: "application/json" },
      body: undefined,
      redirect: "manual",
      signal: transport.options.signal(),
    });
  } catch (cause) {
    throw discoveryNetworkError(issuer, where, cause, transport);
  }
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
      `${where} did not answer within ${transport.requestTimeoutMs / 1000} s${viaProxy(cause)}. Check that ${issuer.host} is reachable, or raise \`requestTimeout\`.`,
      { cause },
    );
  }
  if (tooLarge(cause)) {
    return new LoginError(
      "DISCOVERY_FAILED",
      `${where} sent an oversized answer (${networkReason(cause)}): it is not a discovery document. Check \`issuer\`.`,
      { cause },
    );
  }
  const reason = networkReason(cause);
  return new LoginError("DISCOVERY_FAILED", `Could not reach ${where} (${reason}). Check \`issuer\` and your network connection.`, { cause });
}
