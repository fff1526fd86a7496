import type { ServerMetadata } from "./metadata.js";

/**
 * Discovered metadata reused in this process for a while (a kernel that signs in again saves a
 * round trip or two to the provider). Apart from discovery itself, so that dropping it after a
 * failure costs no import of the protocol code.
 */

/** How long a discovered document is reused in this process. */
const DISCOVERY_REUSE_MS = 10 * 60_000;
const discovered = new Map<string, { metadata: ServerMetadata; until: number }>();

export function recallMetadata(issuer: URL): ServerMetadata | undefined {
  const known = discovered.get(issuer.href);
  return known && known.until > Date.now() ? known.metadata : undefined;
}

export function rememberMetadata(issuer: URL, metadata: ServerMetadata): void {
  discovered.set(issuer.href, { metadata, until: Date.now() + DISCOVERY_REUSE_MS });
}

/** Drops reused metadata: after a failed login (the provider may have changed), and in tests. */
export function forgetMetadata(server?: { issuer: URL | undefined }): void {
  if (server?.issuer) discovered.delete(server.issuer.href);
  else if (!server) discovered.clear();
}
