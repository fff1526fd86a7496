import { LoginError } from "../errors.js";
import type { ResolvedConfig } from "../options/types.js";
import { resolveMetadata } from "../protocol/discovery.js";
import type { ServerMetadata } from "../protocol/metadata.js";
import { registerClient } from "../protocol/registration.js";
import { discoverApi, type ApiMetadata } from "../protocol/resource.js";
import type { Warn } from "../store/cache.js";
import type { Registration } from "../store/registrations.js";
import type { SavedSignIn } from "../store/token-store.js";
import { isSafeEndpoint } from "../util/urls.js";
import type { FlowContext } from "./context.js";
import { withClient } from "./target.js";

/**
 * Signing in to an API given only its URL (`resource`): the API says where (RFC 9728), the client
 * is the one given, the one this machine registered there before, or a new registration (RFC 7591,
 * once per server, saved), and the scopes are the API's when none were given. The result is the
 * options a sign-in by issuer would have had, so every flow after this is the usual one.
 */
export interface ApiTarget {
  /** The options with the server, the client, the scopes and the API's resource indicator filled in. */
  config: ResolvedConfig;
  as: ServerMetadata;
  api: ApiMetadata;
  /** The client is one this machine registered (a server that forgot it gets a new one, once). */
  registered: boolean;
}

export async function locateApi(flow: FlowContext, signIn: SavedSignIn): Promise<ApiTarget> {
  const { config, reporter } = flow;
  const api = await discoverApi(config.resource!, config);
  const issuer = chooseServer(config, api);
  const as = await resolveMetadata({ ...config, issuer: new URL(issuer), issuerId: issuer, authorizationEndpoint: undefined, tokenEndpoint: undefined });
  reporter.event(`${api.name ?? new URL(api.resource).host} signs in at ${as.issuer} (its metadata: ${api.metadataUrl})`);
  const scopes = config.scopes.length > 0 ? config.scopes : apiScopes(api, as);
  const filled: ResolvedConfig = { ...config, issuer: new URL(issuer), issuerId: issuer, scopes, resourceIndicator: api.resource };
  if (config.clientId) return { config: filled, as, api, registered: false };
  const client = await registeredClient(flow, signIn, as);
  flow.secrets.add(client.clientSecret);
  return { config: withClient(filled, client), as, api, registered: true };
}

/** Forgets a registered client the server no longer knows (`invalid_client`): the next sign-in registers anew. */
export function forgetRegistration(signIn: SavedSignIn, issuer: string, clientId: string, warn: Warn): Promise<void> {
  return signIn.withLock(() => {
    if (signIn.store.registration(issuer, warn)?.clientId === clientId) signIn.store.saveRegistration(issuer, undefined, warn);
  });
}

/** The first authorization server the API names, or `issuer` when given and named (never one it does not name). */
function chooseServer(config: ResolvedConfig, api: ApiMetadata): string {
  const named = api.authorizationServers.filter((server) => isSafeEndpoint(server));
  if (config.issuerId !== undefined) {
    const wanted = config.issuer!.href;
    const match = named.find((server) => server === config.issuerId || new URL(server).href === wanted);
    if (match) return match;
    throw new LoginError(
      "DISCOVERY_FAILED",
      `${api.resource} accepts tokens from ${api.authorizationServers.join(", ")}, not from the \`issuer\` given (${config.issuerId}). Leave \`issuer\` out to use the API's, or check \`resource\`.`,
    );
  }
  const first = named[0];
  if (!first) {
    throw new LoginError(
      "DISCOVERY_FAILED",
      `${api.resource} names no authorization server with an https address (${api.authorizationServers.slice(0, 3).join(", ")}): nothing was sent to it.`,
    );
  }
  return first;
}

/** The API's scopes when none were asked for: its 401's `scope`, else its `scopes_supported`; `offline_access` when the server has it. */
function apiScopes(api: ApiMetadata, as: ServerMetadata): string[] {
  const scopes = api.challengeScopes.length > 0 ? [...api.challengeScopes] : [...(api.scopesSupported ?? [])];
  if (as.scopes_supported?.includes("offline_access") && !scopes.includes("offline_access")) scopes.push("offline_access");
  return scopes;
}

/** The client registered at `as` on this machine, or one registered now (under the lock: one registration across processes). */
async function registeredClient(flow: FlowContext, signIn: SavedSignIn, as: ServerMetadata): Promise<Registration> {
  const warn: Warn = (message) => flow.reporter.warn(message);
  const usable = (r: Registration | undefined): r is Registration =>
    r !== undefined && (r.secretExpiresAt === undefined || r.secretExpiresAt > Date.now() + 60_000);
  const known = signIn.store.registration(as.issuer, warn);
  if (usable(known)) return known;
  return signIn.withLock(async () => {
    const again = signIn.store.registration(as.issuer, warn);
    if (usable(again)) return again;
    const client = await registerClient(as, redirectUris(flow.config), { ...flow.config, secrets: flow.secrets });
    const registration: Registration = { issuer: as.issuer, ...client, registeredAt: Date.now() };
    signIn.store.saveRegistration(as.issuer, registration, warn);
    flow.reporter.event(`registered the client ${client.clientId} at ${as.issuer} (saved for later sign-ins)`);
    return registration;
  });
}

/** The loopback redirect URIs to register: without a port unless one is fixed (RFC 8252 §7.3), IPv4 and IPv6. */
function redirectUris(config: ResolvedConfig): string[] {
  const { host, port, path } = config.redirect;
  const at = (h: string): string => `http://${h}${port ? `:${port}` : ""}${path}`;
  return host === "127.0.0.1" ? [at("127.0.0.1"), at("[::1]")] : [at(host)];
}
