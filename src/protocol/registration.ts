import * as oauth from "oauth4webapi";
import { LoginError } from "../errors.js";
import type { SecretSet } from "../secrets.js";
import { clip } from "../util/text.js";
import { createTransport, type NetworkOptions } from "./http.js";
import type { ServerMetadata } from "./metadata.js";
import { isTimeout, isTransportFailure, networkReason } from "./network-errors.js";

/** A client registered here (RFC 7591 §3.2.1): what later requests need of it. */
export interface RegisteredClient {
  clientId: string;
  clientSecret: string | undefined;
  /** Epoch ms, when the server says the secret expires. */
  secretExpiresAt: number | undefined;
  tokenEndpointAuthMethod: "client_secret_basic" | "client_secret_post" | undefined;
  redirectUris: string[];
}

const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

/**
 * Registers this notebook client at the server (Dynamic Client Registration, RFC 7591): a public
 * native client (RFC 8252), its loopback redirect URIs without a port (any port then matches,
 * §7.3), PKCE instead of a secret, refresh tokens, and the device grant where the server offers it.
 * A secret the server assigns anyway joins `secrets`. No endpoint, or a refusal, is an error that
 * says how to register a client by hand.
 */
export async function registerClient(
  as: ServerMetadata,
  redirectUris: string[],
  settings: NetworkOptions & { signal: AbortSignal | undefined; secrets: SecretSet },
): Promise<RegisteredClient> {
  if (!as.registration_endpoint) {
    throw new LoginError(
      "REGISTRATION_FAILED",
      `${as.issuer} offers no dynamic client registration (RFC 7591: no \`registration_endpoint\`), so a client cannot be registered for you. ` +
        `Register a public (native) client there with the redirect URI ${redirectUris[0]} (any port) and pass its id as \`clientId\`.`,
    );
  }
  const device = as.device_authorization_endpoint !== undefined && (as.grant_types_supported?.includes(DEVICE_GRANT) ?? true);
  const metadata: Partial<oauth.Client> = {
    client_name: "tslab-oauth (notebook)",
    application_type: "native",
    redirect_uris: redirectUris,
    token_endpoint_auth_method: "none",
    grant_types: ["authorization_code", "refresh_token", ...(device ? [DEVICE_GRANT] : [])],
    response_types: ["code"],
  };
  const transport = createTransport(settings, settings.signal);
  let response: Response;
  try {
    response = await oauth.dynamicClientRegistrationRequest(as, metadata, transport.options);
  } catch (cause) {
    throw registrationError(as, cause, redirectUris, transport.requestTimeoutMs);
  }
  let client: Awaited<ReturnType<typeof oauth.processDynamicClientRegistrationResponse>>;
  try {
    client = await oauth.processDynamicClientRegistrationResponse(response);
  } catch (cause) {
    await response.body?.cancel().catch(() => {});
    throw registrationError(as, cause, redirectUris, transport.requestTimeoutMs);
  }
  const secret = typeof client.client_secret === "string" && client.client_secret !== "" ? client.client_secret : undefined;
  settings.secrets.add(secret);
  settings.secrets.add(typeof client.registration_access_token === "string" ? client.registration_access_token : undefined);
  const method = client.token_endpoint_auth_method;
  const expires =
    typeof client.client_secret_expires_at === "number" && client.client_secret_expires_at > 0 ? client.client_secret_expires_at * 1000 : undefined;
  return {
    clientId: client.client_id,
    clientSecret: secret,
    secretExpiresAt: secret ? expires : undefined,
    tokenEndpointAuthMethod: secret && (method === "client_secret_basic" || method === "client_secret_post") ? method : undefined,
    redirectUris: Array.isArray(client.redirect_uris) ? (client.redirect_uris as string[]) : redirectUris,
  };
}

function registrationError(as: ServerMetadata, cause: unknown, redirectUris: string[], timeoutMs: number): LoginError {
  const endpoint = as.registration_endpoint!;
  const byHand = `Register a public (native) client at ${as.issuer} with the redirect URI ${redirectUris[0]} (any port) and pass its id as \`clientId\`.`;
  if (isTransportFailure(cause) || isTimeout(cause)) {
    const why = isTimeout(cause) ? `did not answer within ${timeoutMs / 1000} s` : `could not be reached (${networkReason(cause)})`;
    return new LoginError("REGISTRATION_FAILED", `The registration endpoint ${endpoint} ${why}. Try again, or: ${byHand}`, { cause });
  }
  if (cause instanceof oauth.ResponseBodyError) {
    const said = `${clip(cause.error, 100)}${cause.error_description ? `: ${clip(cause.error_description, 300)}` : ""}`;
    return new LoginError("REGISTRATION_FAILED", `${as.issuer} refused to register a client (HTTP ${cause.status}, ${said}). ${byHand}`, {
      cause,
      error: cause.error,
      errorDescription: cause.error_description,
      status: cause.status,
    });
  }
  const status = cause instanceof oauth.WWWAuthenticateChallengeError ? cause.status : (cause as { response?: Response })?.response?.status;
  const what =
    status === 401 || status === 403
      ? "asks for an initial access token (registration is not open)"
      : `did not register a client (${clip((cause as Error)?.message ?? String(cause), 200)})`;
  return new LoginError("REGISTRATION_FAILED", `The registration endpoint ${endpoint} ${what}. ${byHand}`, { cause, status });
}
