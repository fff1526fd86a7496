import { LoginError } from "../errors.js";
import type { LogoutConfig } from "../options/types.js";
import { resolveOrReport, runCall } from "./call.js";
import type { LogoutResult } from "./types.js";

/**
 * Signs out: revokes the saved refresh token, then the access token, at the server's revocation
 * endpoint (RFC 7009) when it advertises one, and removes the entry from the cache. The same
 * options as login() pick the entry (issuer, client, scopes, profile...). In a notebook the cell
 * says what was done.
 *
 * If the refresh token cannot be revoked (network, server error) nothing is removed, so that you
 * can try again; `revoke: false` only forgets the tokens on this machine.
 *
 * @example
 * ```ts
 * await logout({ issuer: "https://id.example.com", clientId: "my-app", scopes: ["openid", "profile"] });
 * ```
 */
export async function logout(config: LogoutConfig): Promise<LogoutResult> {
  const resolved = resolveOrReport(config);
  if (config.revoke !== undefined && typeof config.revoke !== "boolean") {
    throw new LoginError("INVALID_CONFIG", "`revoke` must be true or false.");
  }
  return runCall(resolved, {}, async (ctx) => {
    const { revokeEntry } = await import("./revoke.js");
    return revokeEntry(ctx, config.revoke ?? true);
  });
}
