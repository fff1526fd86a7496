import * as oauth from "oauth4webapi";
import type { LoginError } from "../errors.js";
import type { ServerMetadata } from "./metadata.js";

/**
 * Client authentication at the token and revocation endpoints (RFC 6749 §2.3.1). A client without
 * a secret sends only `client_id` (a public client with PKCE). A secret goes in the Basic header
 * unless the server lists only `client_secret_post`, or `tokenEndpointAuthMethod` says otherwise.
 */
export type ClientAuthMethod = "none" | "client_secret_basic" | "client_secret_post";

/** The method, and whether it was asked for (an asked method is never changed behind the user's back). */
export interface ClientAuthChoice {
  method: ClientAuthMethod;
  explicit: boolean;
  /** The server refused Basic and took post (now, or when the saved sign-in was made): keep post. */
  learned?: boolean;
}

/** The client as the protocol knows it: its id, its secret if it has one, and a method if one was asked for. */
export interface ClientCredentials {
  clientId: string;
  clientSecret: string | undefined;
  tokenEndpointAuthMethod: "client_secret_basic" | "client_secret_post" | undefined;
}

export function chooseClientAuth(config: Omit<ClientCredentials, "clientId">, as: ServerMetadata, learned?: "client_secret_post"): ClientAuthChoice {
  if (!config.clientSecret) return { method: "none", explicit: false };
  if (config.tokenEndpointAuthMethod) return { method: config.tokenEndpointAuthMethod, explicit: true };
  if (learned) return { method: learned, explicit: false, learned: true };
  const supported = as.token_endpoint_auth_methods_supported;
  const post = supported !== undefined && !supported.includes("client_secret_basic") && supported.includes("client_secret_post");
  return { method: post ? "client_secret_post" : "client_secret_basic", explicit: false };
}

/**
 * RFC 6749 Appendix B: the client id and secret are form-encoded before they go into the Basic
 * header, and the server form-decodes them. Only what decoding would change, or what is not an
 * RFC 3986 unreserved character, is encoded; `-`, `.`, `_` and `~` stay as they are, so a server
 * that compares the header's values as sent (several do) still sees the real id and secret.
 */
export function formEncode(value: string): string {
  return encodeURIComponent(value)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, "+");
}

/** oauth4webapi's client authentication for the chosen method. */
export function clientAuthFor(method: ClientAuthMethod, secret: string | undefined): oauth.ClientAuth {
  if (method === "none" || !secret) return oauth.None();
  if (method === "client_secret_post") return oauth.ClientSecretPost(secret);
  return (_as, client, _body, headers) => {
    headers.set("authorization", `Basic ${Buffer.from(`${formEncode(client.client_id)}:${formEncode(secret)}`).toString("base64")}`);
  };
}

/**
 * Whether a refusal of Basic credentials may be retried once with `client_secret_post` (as Go's
 * x/oauth2 does): the method was not asked for, the server's metadata does not exclude post, and
 * the answer says the client was not recognised (401 `invalid_client` or without a body, or
 * 400/401/403 with `invalid_client` / `unauthorized_client`).
 */
export function mayRetryWithPost(choice: ClientAuthChoice, as: ServerMetadata, refusal: LoginError): boolean {
  if (choice.method !== "client_secret_basic" || choice.explicit) return false;
  const supported = as.token_endpoint_auth_methods_supported;
  if (supported !== undefined && !supported.includes("client_secret_post")) return false;
  const clientError = refusal.error === "invalid_client" || refusal.error === "unauthorized_client";
  if (refusal.status === 401) return refusal.error === undefined || clientError;
  return (refusal.status === 400 || refusal.status === 403) && clientError;
}
