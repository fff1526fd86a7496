// The local demo identity provider: a real OpenID Connect server (oidc-provider, OpenID certified)
// on loopback, with dev login and consent pages that accept any name, refresh tokens, and a small
// protected API at /api/me. Used by `npm start`, the tests and the benchmarks.
import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { createServer as createTlsServer } from "node:https";

/**
 * oidc-provider warns about what a demo does on purpose: an in-memory store, its development
 * login pages, and Node 20 (which it supports, but no longer recommends). A newcomer running
 * `npm start` should not read those as problems: exactly these are dropped; every other message
 * of oidc-provider still shows.
 */
const EXPECTED = [
  /Unsupported runtime/,
  /development-only in-memory adapter/,
  /development-only feature devInteractions/,
  /default features\.deviceFlow\.\w+ function called/,
];
for (const method of /** @type {const} */ (["warn", "info"])) {
  const original = console[method].bind(console);
  console[method] = (...args) => {
    const text = String(args[0] ?? "");
    if (text.includes("oidc-provider") && EXPECTED.some((pattern) => pattern.test(text))) return;
    original(...args);
  };
}
const { default: Provider, errors } = await import("oidc-provider");

/** Public client: the one the quickstart notebook uses. */
export const DEMO_CLIENT_ID = "tslab-demo";
/** Confidential client: sends its secret with client_secret_basic. */
export const CONFIDENTIAL_CLIENT_ID = "tslab-demo-confidential";
/** Confidential client registered for client_secret_post only. */
export const POST_CLIENT_ID = "tslab-demo-post";
/** A service account: the client credentials grant only (RFC 6749 §4.4), with the same secret. */
export const SERVICE_CLIENT_ID = "tslab-demo-service";

const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";
const LOOPBACK_REDIRECTS = ["http://127.0.0.1/callback", "http://localhost/callback", "http://[::1]/callback"];
/**
 * Root-path loopback redirects, registered only with the `rootRedirects` option: other libraries'
 * clients, in the peer benchmark (bench/peers.ts), redirect to the root of their listener:
 * google-auth-oauthlib to `http://127.0.0.1:<port>/`, msal-node to `http://localhost:<port>`
 * (no slash; oidc-provider compares loopback redirects as strings, port removed).
 */
const ROOT_REDIRECTS = ["http://127.0.0.1/", "http://localhost/", "http://localhost"];

/**
 * @typedef {object} DemoIdpOptions
 * @property {number} [port] Port to listen on; 0 (default) picks a free one.
 * @property {number} [accessTokenTtl] Access token lifetime in seconds (a service account's too). Default 3600.
 * @property {string} [clientSecret] Secret of the confidential clients. Default: random.
 * @property {"oidc" | "oauth2"} [discovery] Where metadata is served: OpenID Connect Discovery
 *   (default) or only RFC 8414 `/.well-known/oauth-authorization-server`.
 * @property {boolean} [deviceFlow] Enable the device authorization grant (RFC 8628). Default false.
 * @property {number} [deviceInterval] Polling `interval` (seconds) put in device authorization
 *   responses; oidc-provider sends none, which means 5 s.
 * @property {number} [deviceCodeTtl] Device code lifetime in seconds. Default 600.
 * @property {boolean} [slowDownOnce] Answer the first poll of each device code with `slow_down`
 *   (RFC 8628 §3.5), as throttling servers do; oidc-provider itself never sends it.
 * @property {boolean} [rootRedirects] Also register the root-path loopback redirects of other
 *   libraries (ROOT_REDIRECTS), for the peer benchmark. Default false: only the `/callback` paths.
 * @property {{ key: string, cert: string }} [tls] Serve https with this key and certificate (PEM).
 * @property {string} [hostname] Host name of the issuer (default 127.0.0.1); it must resolve to
 *   127.0.0.1 where it is used (the proxy tests add it to /etc/hosts). The server still listens on
 *   127.0.0.1 only.
 * @property {boolean} [par] Offer pushed authorization requests (RFC 9126). Default false, so that
 *   the tests that read the authorization URL see its parameters; `npm start` turns it on.
 * @property {boolean} [requirePar] Refuse authorization requests that were not pushed.
 * @property {boolean} [dpop] Offer DPoP (RFC 9449), as oidc-provider does by default. Default true.
 * @property {boolean} [dpopNonce] Require server-provided DPoP nonces, at the token endpoint and at
 *   /api/me (RFC 9449 §8, §9). Default false.
 * @property {"open" | "initial-access-token"} [registration] Offer dynamic client registration
 *   (RFC 7591) at /reg: open to anyone, or only with an initial access token (which clients here
 *   do not have: registration is refused). Default: not offered.
 * @property {boolean} [resourceIndicators] Resource indicators (RFC 8707): a token asked for an API
 *   registered with `addResource()` is a JWT for that API alone (`aud`), with its scopes. Default false.
 * @property {number} [idTokenTtl] ID token lifetime in seconds. Default 3600.
 * @property {boolean} [grantKnownResources] With `resourceIndicators`: a sign-in for one API the server
 *   knows is a grant for all of them (as servers that group APIs under one consent do), so its refresh
 *   token can get a token for any of them (RFC 8707 §2.2). Default false: a refresh names only the APIs
 *   of its sign-in, and oidc-provider refuses another with `invalid_target`.
 * @property {{ ca: string }} [clientIdMetadataDocuments] Accept an https URL as `client_id`: the Client
 *   ID Metadata Document it names is fetched and is the client (oidc-provider's draft-02 feature;
 *   the metadata lists `client_id_metadata_document_supported`). The documents are fetched with this
 *   authority trusted, and from loopback too, which a public server's SSRF protection refuses.
 */

/**
 * @param {DemoIdpOptions} [options]
 */
export async function startDemoIdp(options = {}) {
  const server = options.tls ? createTlsServer({ key: options.tls.key, cert: options.tls.cert }) : createServer();
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve(undefined));
  });
  const address = /** @type {import("node:net").AddressInfo} */ (server.address());
  const issuer = `${options.tls ? "https" : "http"}://${options.hostname ?? "127.0.0.1"}:${address.port}`;
  const clientSecret = options.clientSecret ?? randomBytes(24).toString("base64url");
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const nonceSecret = options.dpopNonce ? randomBytes(32) : undefined;
  const jwk = { ...privateKey.export({ format: "jwk" }), use: "sig", alg: "RS256", kid: "demo" };
  /** APIs known to the server (resource indicator → its scopes), with `resourceIndicators`. */
  const resources = new Map();
  const native = {
    application_type: "native",
    redirect_uris: options.rootRedirects ? [...LOOPBACK_REDIRECTS, ...ROOT_REDIRECTS] : LOOPBACK_REDIRECTS,
    grant_types: ["authorization_code", "refresh_token", ...(options.deviceFlow ? [DEVICE_GRANT] : [])],
    response_types: ["code"],
  };

  const provider = new Provider(issuer, {
    clients: [
      { ...native, client_id: DEMO_CLIENT_ID, token_endpoint_auth_method: "none" },
      { ...native, client_id: CONFIDENTIAL_CLIENT_ID, client_secret: clientSecret, token_endpoint_auth_method: "client_secret_basic" },
      { ...native, client_id: POST_CLIENT_ID, client_secret: clientSecret, token_endpoint_auth_method: "client_secret_post" },
      {
        client_id: SERVICE_CLIENT_ID,
        client_secret: clientSecret,
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(32).toString("base64url")] },
    claims: { openid: ["sub"], profile: ["name", "preferred_username"], email: ["email", "email_verified"] },
    // With resource indicators, the demo API's scopes are the server's too (clients that register them, as
    // the MCP SDK's does, are then accepted).
    scopes: ["openid", "offline_access", "profile", "email", "api", ...(options.resourceIndicators ? ["api:read", "files:write", "mcp:tools"] : [])],
    findAccount: async (_ctx, id) => ({
      accountId: id,
      claims: async () => ({ sub: id, name: id, preferred_username: id, email: `${id}@demo.test`, email_verified: true }),
    }),
    features: {
      devInteractions: { enabled: true },
      userinfo: { enabled: true },
      revocation: { enabled: true, allowedPolicy: async () => true },
      introspection: { enabled: true, allowedPolicy: async () => true },
      deviceFlow: { enabled: options.deviceFlow ?? false },
      clientCredentials: { enabled: true },
      pushedAuthorizationRequests: { enabled: options.par ?? false, requirePushedAuthorizationRequests: options.requirePar ?? false },
      dPoP: { enabled: options.dpop ?? true, ...(nonceSecret ? { nonceSecret, requireNonce: () => true } : {}) },
      registration: { enabled: options.registration !== undefined, initialAccessToken: options.registration === "initial-access-token" },
      clientIdMetadataDocument: { enabled: options.clientIdMetadataDocuments !== undefined, ack: "draft-02" },
      resourceIndicators: {
        enabled: options.resourceIndicators ?? false,
        // A request that names no resource gets the usual opaque token (for userinfo and /api/me).
        defaultResource: async (_ctx, _client, oneOf) => oneOf,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resource) => {
          const api = resources.get(resource);
          if (!api) throw new errors.InvalidTarget(`unknown resource ${resource}`);
          return {
            scope: api.scopes.join(" "),
            audience: resource,
            accessTokenTTL: options.accessTokenTtl ?? 3600,
            accessTokenFormat: "jwt",
            jwt: { sign: { alg: "RS256" } },
          };
        },
      },
    },
    ...(options.clientIdMetadataDocuments ? { fetch: await loopbackFetch(options.clientIdMetadataDocuments.ca) } : {}),
    // The demo issues a refresh token to every client allowed the grant, without the
    // offline_access + prompt=consent dance of the default policy.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
    pkce: { required: () => true },
    ttl: {
      AccessToken: options.accessTokenTtl ?? 3600,
      AuthorizationCode: 60,
      IdToken: options.idTokenTtl ?? 3600,
      RefreshToken: 14 * 24 * 3600,
      Interaction: 3600,
      Session: 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
      DeviceCode: options.deviceCodeTtl ?? 600,
      ClientCredentials: options.accessTokenTtl ?? 600,
      BackchannelAuthenticationRequest: 600,
    },
    renderError: async (ctx, out) => {
      ctx.type = "html";
      const esc = (/** @type {unknown} */ s) => String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
      ctx.body = `<!doctype html><title>Error</title><h1>${esc(out.error)}</h1><p>${esc(out.error_description)}</p>`;
    },
  });
  provider.proxy = false;
  if (options.deviceInterval !== undefined) {
    provider.on("device_authorization.success", (_ctx, body) => {
      body.interval = options.deviceInterval;
    });
  }
  const api = resourceServer(provider, issuer, options.dpopNonce ?? false);
  /**
   * `grantKnownResources`: an authorization request (or its pushed form) naming one known API names them all.
   * @param {import("node:http").IncomingMessage & { body?: string }} req
   * @param {string} path
   */
  const grantAll = async (req, path) => {
    const widen = (/** @type {URLSearchParams} */ params) => {
      if (!params.getAll("resource").some((r) => resources.has(r))) return params;
      params.delete("resource");
      for (const resource of resources.keys()) params.append("resource", resource);
      return params;
    };
    if (path === "/auth") {
      const url = new URL(req.url ?? "/", issuer);
      req.url = `${url.pathname}?${widen(url.searchParams)}`;
      return;
    }
    if (req.method !== "POST") return;
    let body = req.body;
    if (typeof body !== "string") {
      const chunks = [];
      for await (const chunk of req) chunks.push(chunk);
      body = Buffer.concat(chunks).toString();
    }
    // The body was read here: oidc-provider then takes it from req.body.
    Object.assign(req, { body: widen(new URLSearchParams(body)).toString() });
  };
  /** Device codes already answered with slow_down (slowDownOnce). */
  const slowedDown = new Set();

  /** Requests seen, by path (tests assert "no request was made"). */
  const counts = new Map();
  const callback = provider.callback();
  server.on("request", async (req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    counts.set(path, (counts.get(path) ?? 0) + 1);
    if (options.discovery === "oauth2") {
      if (path === "/.well-known/openid-configuration") {
        res.writeHead(404).end();
        return;
      }
      if (path === "/.well-known/oauth-authorization-server") req.url = "/.well-known/openid-configuration";
    }
    if (path === "/api/me") {
      await api(req, res);
      return;
    }
    // /api/moved/<status>: a redirect to /api/me with that status (301, 302, 303, 307, 308).
    const moved = /^\/api\/moved\/(30[12378])$/.exec(path);
    if (moved) {
      res.writeHead(Number(moved[1]), { Location: "/api/me" }).end();
      return;
    }
    if (options.grantKnownResources && (path === "/auth" || path === "/request")) await grantAll(req, path);
    if (options.slowDownOnce && path === "/token" && req.method === "POST") {
      const chunks = [];
      for await (const chunk of req) chunks.push(chunk);
      const body = Buffer.concat(chunks).toString();
      const params = new URLSearchParams(body);
      const deviceCode = params.get("device_code");
      if (params.get("grant_type") === DEVICE_GRANT && deviceCode && !slowedDown.has(deviceCode)) {
        slowedDown.add(deviceCode);
        res.writeHead(400, { "Content-Type": "application/json", "Cache-Control": "no-store" });
        res.end(JSON.stringify({ error: "slow_down", error_description: "polling too fast" }));
        return;
      }
      // The body was read here: oidc-provider then takes it from req.body.
      Object.assign(req, { body });
    }
    callback(req, res);
  });

  return {
    issuer,
    port: address.port,
    provider,
    server,
    clientSecret,
    counts,
    /** The public key the server signs with (JWT access tokens for APIs, ID tokens). */
    publicJwk: { kty: jwk.kty, n: jwk.n, e: jwk.e, alg: "RS256", kid: "demo", use: "sig" },
    /** Makes an API known to the server (`resourceIndicators`): tokens for it carry these scopes and `aud`. */
    addResource: (/** @type {string} */ resource, /** @type {string[]} */ scopes) => void resources.set(resource, { scopes }),
    /** Why /api/me refused each request it refused ("nonce", "a DPoP-bound token sent as a Bearer token"...). */
    apiRefusals: api.refusals,
    /** Total requests seen so far. */
    requestCount: () => [...counts.values()].reduce((a, b) => a + b, 0),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve(undefined));
        server.closeAllConnections();
      }),
  };
}

/**
 * The demo's protected API, /api/me: answers who the access token belongs to. A Bearer token as
 * RFC 6750 says; a DPoP-bound one (oidc-provider records its key's thumbprint, `cnf.jkt`) only with
 * the DPoP scheme and a proof checked as RFC 9449 §4.3 and §7.1 say: signed by the bound key, for
 * this method and URL, recent, never seen before, carrying the token's hash (`ath`) and, with
 * `dpopNonce`, the nonce this server gave.
 * @param {Provider} provider
 * @param {string} issuer
 * @param {boolean} requireNonce
 */
function resourceServer(provider, issuer, requireNonce) {
  const seen = new Set();
  let nonce = randomBytes(16).toString("base64url");
  /** Requests this server refused, by reason (tests read it). */
  /** @type {string[]} */
  const refusals = [];
  const nonceHeader = () => (requireNonce ? { "DPoP-Nonce": nonce } : {});
  /**
   * @param {import("node:http").IncomingMessage} req
   * @param {import("node:http").ServerResponse} res
   */
  const handler = async (req, res) => {
    const match = /^(Bearer|DPoP) ([^\s]+)$/i.exec(req.headers.authorization ?? "");
    const scheme = match?.[1]?.toLowerCase();
    // A person's token, or a service account's (oidc-provider keeps those as ClientCredentials).
    const token = match
      ? ((await provider.AccessToken.find(match[2]).catch(() => undefined)) ?? (await provider.ClientCredentials.find(match[2]).catch(() => undefined)))
      : undefined;
    const refuse = (/** @type {string} */ error, /** @type {string} */ reason) => {
      refusals.push(reason);
      // A proof without the current nonce: use_dpop_nonce, with a new nonce to use (RFC 9449 §9).
      if (reason === "nonce") [error, nonce] = ["use_dpop_nonce", randomBytes(16).toString("base64url")];
      const challenge = token?.jkt || scheme === "dpop" ? `DPoP error="${error}", algs="ES256"` : `Bearer error="${error}"`;
      res.writeHead(401, { "Content-Type": "application/json", "WWW-Authenticate": challenge, ...nonceHeader() });
      res.end(JSON.stringify({ error, error_description: reason }));
    };
    if (!token || token.isExpired) return refuse("invalid_token", "unknown or expired token");
    if (token.jkt) {
      if (scheme !== "dpop") return refuse("invalid_token", "a DPoP-bound token sent as a Bearer token");
      const why = await checkProof(req, match[2], token.jkt);
      if (why) return refuse("invalid_dpop_proof", why);
    } else if (scheme !== "bearer") {
      return refuse("invalid_token", "a Bearer token sent with another scheme");
    }
    res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-store", ...nonceHeader() });
    const who = token.accountId ?? `service client ${token.clientId}`;
    res.end(JSON.stringify({ sub: token.accountId, client_id: token.clientId, scope: token.scope, jkt: token.jkt, message: `Hello, ${who}!` }));
  };
  /**
   * @param {import("node:http").IncomingMessage} req
   * @param {string} accessToken
   * @param {string} jkt
   * @returns {Promise<string | undefined>} why the proof is refused, if it is
   */
  const checkProof = async (req, accessToken, jkt) => {
    const proof = req.headers.dpop;
    if (typeof proof !== "string") return "no DPoP proof";
    const { jwtVerify, EmbeddedJWK, calculateJwkThumbprint } = await import("jose");
    let verified;
    try {
      verified = await jwtVerify(proof, EmbeddedJWK, { typ: "dpop+jwt", algorithms: ["ES256", "EdDSA", "RS256", "PS256"] });
    } catch (error) {
      return `proof signature: ${/** @type {Error} */ (error).message}`;
    }
    const { payload, protectedHeader } = verified;
    if ((await calculateJwkThumbprint(/** @type {import("jose").JWK} */ (protectedHeader.jwk))) !== jkt) return "proof signed by another key than the token's";
    if (payload.htm !== req.method) return "htm mismatch";
    if (payload.htu !== `${issuer}${(req.url ?? "/").split("?")[0]}`) return "htu mismatch";
    if (typeof payload.iat !== "number" || Math.abs(Date.now() / 1000 - payload.iat) > 60) return "iat not recent";
    if (payload.ath !== createHash("sha256").update(accessToken).digest("base64url")) return "ath mismatch";
    if (typeof payload.jti !== "string" || seen.has(payload.jti)) return "jti replayed";
    seen.add(payload.jti);
    if (requireNonce && payload.nonce !== nonce) return "nonce";
    return undefined;
  };
  return Object.assign(handler, { refusals });
}

/**
 * oidc-provider's outgoing fetch (Client ID Metadata Documents), trusting `ca` and reaching loopback.
 * @param {string} ca
 */
async function loopbackFetch(ca) {
  const { Agent, fetch } = await import("undici");
  const dispatcher = new Agent({ connect: { ca } });
  return (/** @type {any} */ url, /** @type {any} */ init) => fetch(url, { ...init, dispatcher });
}
