import * as oauth from "oauth4webapi";
import { LoginError } from "../errors.js";
import { clip } from "../util/text.js";
import { contains, isSafeEndpoint } from "../util/urls.js";
import { bearerChallenge, scopeList } from "./challenge.js";
import { createTransport, type NetworkOptions, type Transport } from "./http.js";
import { isTimeout, networkReason, viaProxy } from "./network-errors.js";

/**
 * Where to sign in to an API, asked of the API itself: OAuth 2.0 Protected Resource Metadata (RFC
 * 9728), as every MCP server publishes it. An unauthenticated request first: a 401 whose Bearer
 * challenge names `resource_metadata` says where the metadata is (with the `scope` it wants);
 * without one, the well-known address with the API's path inserted, then at its origin.
 */
export interface ApiMetadata {
  /** The API's identifier as its metadata states it: the resource indicator (RFC 8707) tokens are asked for. */
  resource: string;
  /** Authorization servers the API accepts tokens from (issuer identifiers), in its order. */
  authorizationServers: string[];
  scopesSupported: string[] | undefined;
  /** The scopes the API's 401 challenge asked for, if it said. */
  challengeScopes: string[];
  /** The API's human-readable name (`resource_name`), if it gives one. */
  name: string | undefined;
  /** Where the metadata was read. */
  metadataUrl: string;
}

type Settings = NetworkOptions & { signal: AbortSignal | undefined };

export async function discoverApi(resource: URL, settings: Settings): Promise<ApiMetadata> {
  const transport = createTransport(settings, settings.signal);
  const fetch = transport.options[oauth.customFetch];
  const get = (url: string, accept = "application/json"): Promise<Response> =>
    fetch(url, { method: "GET", headers: { accept }, body: undefined, redirect: "manual", signal: transport.options.signal() }).catch((cause: unknown) => {
      throw unreachable(url, cause, transport);
    });
  const tried: string[] = [];
  // 1. The API itself: its 401 may name the metadata (RFC 9728 §5.1).
  const probe = await get(resource.href, "application/json, text/event-stream, */*;q=0.5");
  await probe.body?.cancel().catch(() => {});
  const challenge = probe.status === 401 ? bearerChallenge(probe.headers.get("www-authenticate")) : undefined;
  const challengeScopes = scopeList(challenge?.scope);
  const named = challenge?.resource_metadata;
  const candidates: string[] = [];
  if (named !== undefined) {
    if (!isSafeEndpoint(named)) {
      throw new LoginError(
        "DISCOVERY_FAILED",
        `${resource.href} named its metadata at ${JSON.stringify(clip(named, 200))}, which is not an https URL; it was not fetched. Give \`issuer\` and \`clientId\` instead, or report this to the API's administrator.`,
      );
    }
    candidates.push(named);
  } else {
    tried.push(`${resource.href} answered HTTP ${probe.status}${probe.status === 401 ? " without a resource_metadata challenge" : ""}`);
    candidates.push(...wellKnownUrls(resource));
  }
  for (const where of candidates) {
    const response = await get(where);
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => {});
      tried.push(`${where} answered HTTP ${response.status}`);
      // RFC 9728 §3 and MCP: the path-inserted address first, then the origin's, on any 4xx.
      if (response.status >= 400 && response.status < 500 && named === undefined) continue;
      break;
    }
    return { ...readMetadata(await readJson(response, where, transport), resource, where), challengeScopes };
  }
  throw new LoginError(
    "DISCOVERY_FAILED",
    `${resource.href} does not say where to sign in (no OAuth 2.0 Protected Resource Metadata, RFC 9728): ${tried.join("; ")}. ` +
      "Check `resource` (the API's URL), or give `issuer` and `clientId` of its authorization server.",
  );
}

/** RFC 9728 §3.1: `/.well-known/oauth-protected-resource` inserted before the path; then at the origin. */
function wellKnownUrls(resource: URL): string[] {
  const path = resource.pathname === "/" ? "" : resource.pathname.replace(/\/$/, "");
  const inserted = new URL(`/.well-known/oauth-protected-resource${path}`, resource.origin).href;
  const root = new URL("/.well-known/oauth-protected-resource", resource.origin).href;
  return inserted === root ? [root] : [inserted, root];
}

async function readJson(response: Response, where: string, transport: Transport): Promise<unknown> {
  try {
    return JSON.parse(await response.text());
  } catch (cause) {
    if (cause instanceof SyntaxError) throw new LoginError("DISCOVERY_FAILED", `${where} is not a JSON document (RFC 9728). Check \`resource\`.`, { cause });
    throw unreachable(where, cause, transport);
  }
}

/**
 * The document's `resource` must be the API asked about (RFC 9728 §3.3), or, as MCP clients accept
 * it, the API that contains it (same origin, the document's path a prefix of ours by whole path
 * segments): a document naming anything else is someone else's and is not used.
 */
function readMetadata(body: unknown, resource: URL, where: string): Omit<ApiMetadata, "challengeScopes"> {
  const doc = (body !== null && typeof body === "object" ? body : {}) as Record<string, unknown>;
  const named = typeof doc.resource === "string" && URL.canParse(doc.resource) ? new URL(doc.resource) : undefined;
  if (!named || !contains(named, resource)) {
    throw new LoginError(
      "DISCOVERY_FAILED",
      `The metadata at ${where} is for ${named ? named.href : "no resource"}${named ? "" : " (no `resource` field)"}, not for ${resource.href} (RFC 9728 §3.3): it was not used, and nothing was sent to its authorization server. Check \`resource\`.`,
    );
  }
  const servers = Array.isArray(doc.authorization_servers) ? doc.authorization_servers.filter((s): s is string => typeof s === "string") : [];
  if (servers.length === 0) {
    throw new LoginError(
      "DISCOVERY_FAILED",
      `The metadata at ${where} names no \`authorization_servers\`: ${resource.href} does not say where to sign in. Give \`issuer\` and \`clientId\`.`,
    );
  }
  const scopes = Array.isArray(doc.scopes_supported) ? doc.scopes_supported.filter((s): s is string => typeof s === "string") : undefined;
  return {
    resource: named.href,
    authorizationServers: servers,
    scopesSupported: scopes,
    name: typeof doc.resource_name === "string" ? clip(doc.resource_name, 100) : undefined,
    metadataUrl: where,
  };
}

function unreachable(where: string, cause: unknown, transport: Transport): LoginError {
  if (isTimeout(cause)) {
    return new LoginError(
      "DISCOVERY_FAILED",
      `${where} did not answer within ${transport.requestTimeoutMs / 1000} s${viaProxy(cause)}. Check \`resource\`, or raise \`requestTimeout\`.`,
      { cause },
    );
  }
  return new LoginError("DISCOVERY_FAILED", `Could not reach ${where} (${networkReason(cause)}). Check \`resource\` and your network connection.`, { cause });
}
