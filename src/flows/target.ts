import type { ResolvedConfig } from "../options/types.js";
import type { CacheEntry, Warn } from "../store/cache.js";
import type { Registration } from "../store/registrations.js";
import type { SavedSignIn } from "../store/token-store.js";

/**
 * The options of a sign-in by `resource` once its server and client are known. Apart from
 * ./api.ts (which discovers them) so that a refresh of a saved sign-in loads no discovery code.
 */

/** The options of a saved sign-in by `resource`: its server, client and resource, to refresh or revoke it. */
export function savedTarget(config: ResolvedConfig, entry: CacheEntry, signIn: SavedSignIn, warn: Warn): ResolvedConfig {
  if (!config.resource) return config;
  const filled: ResolvedConfig = {
    ...config,
    issuer: new URL(entry.metadata.issuer),
    issuerId: entry.metadata.issuer,
    resourceIndicator: entry.resource ?? config.resourceIndicator,
  };
  if (config.clientId) return filled;
  const client = signIn.store.registration(entry.metadata.issuer, warn);
  return client && client.clientId === entry.clientId ? withClient(filled, client) : { ...filled, clientId: entry.clientId };
}

/** The options with a client this machine registered. */
export function withClient(config: ResolvedConfig, client: Registration): ResolvedConfig {
  return {
    ...config,
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    tokenEndpointAuthMethod: client.clientSecret ? client.tokenEndpointAuthMethod : undefined,
  };
}
