// The demo's protected API for signing in by URL alone: an OAuth 2.0 protected resource that
// publishes its metadata (RFC 9728) and answers a request without a valid token with a 401 whose
// challenge names it, as MCP servers do. It accepts only JWT access tokens the demo provider issued
// for it (resource indicators, RFC 8707: `aud` is this API), and each route wants a scope: a token
// without it gets 403 `insufficient_scope` (RFC 6750 §3.1), which is how an API asks for more.
import { createServer } from "node:http";

/**
 * @typedef {object} DemoApiOptions
 * @property {Awaited<ReturnType<typeof import("./idp.js").startDemoIdp>>} idp The demo provider it trusts.
 * @property {string} [path] The API's path. Default "/v1".
 * @property {boolean} [challenge] Name the metadata in the 401's challenge (RFC 9728 §5.1). Default
 *   true; without it, clients find the metadata at the well-known address.
 * @property {"inserted" | "root"} [wellKnown] Where the metadata is served: with the API's path
 *   inserted (default), or only at the origin's `/.well-known/oauth-protected-resource`.
 * @property {string} [metadataResource] The `resource` the metadata names. Default: the API itself.
 * @property {string[]} [authorizationServers] Default: the demo provider.
 * @property {number} [port] Default: a free one.
 */

/** Scopes of the demo API; `files:write` is never granted unless asked for (step-up). */
export const API_SCOPES = ["api:read", "files:write"];

/** @param {DemoApiOptions} options */
export async function startDemoApi(options) {
  const { idp } = options;
  const path = options.path ?? "/v1";
  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve(undefined));
  });
  const origin = `http://127.0.0.1:${/** @type {import("node:net").AddressInfo} */ (server.address()).port}`;
  const resource = `${origin}${path}`;
  idp.addResource(resource, API_SCOPES);
  const inserted = `${origin}/.well-known/oauth-protected-resource${path}`;
  const metadataUrl = options.wellKnown === "root" ? `${origin}/.well-known/oauth-protected-resource` : inserted;
  const metadata = {
    resource: options.metadataResource ?? resource,
    authorization_servers: options.authorizationServers ?? [idp.issuer],
    scopes_supported: ["api:read"],
    bearer_methods_supported: ["header"],
    resource_name: "Demo API",
  };
  const { jwtVerify, importJWK } = await import("jose");
  const key = await importJWK(idp.publicJwk, "RS256");
  /** What each request carried, in order: path and whether it had an Authorization header (tests read it). */
  /** @type {{ path: string, authorization: boolean }[]} */
  const seen = [];

  server.on("request", async (req, res) => {
    const url = new URL(req.url ?? "/", origin);
    seen.push({ path: url.pathname, authorization: req.headers.authorization !== undefined });
    const json = (/** @type {number} */ status, /** @type {unknown} */ body, headers = {}) => {
      res.writeHead(status, { "Content-Type": "application/json", "Cache-Control": "no-store", ...headers });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === metadataUrl.slice(origin.length)) return json(200, metadata);
    if (url.pathname !== path && !url.pathname.startsWith(`${path}/`)) return json(404, { error: "not_found" });
    const challenge = (/** @type {string} */ extra) =>
      `Bearer ${[options.challenge === false ? "" : `resource_metadata="${metadataUrl}"`, extra].filter(Boolean).join(", ")}`;
    const match = /^Bearer ([^\s]+)$/i.exec(req.headers.authorization ?? "");
    let claims;
    try {
      if (!match) throw new Error("no token");
      ({ payload: claims } = await jwtVerify(match[1], key, { issuer: idp.issuer, audience: resource }));
    } catch {
      return json(401, { error: "invalid_token" }, { "WWW-Authenticate": challenge(match ? 'error="invalid_token"' : 'scope="api:read"') });
    }
    const scopes = String(claims.scope ?? "").split(" ");
    const need = url.pathname === `${path}/files` && req.method === "POST" ? "files:write" : "api:read";
    if (!scopes.includes(need)) {
      return json(403, { error: "insufficient_scope" }, { "WWW-Authenticate": challenge(`error="insufficient_scope", scope="${need}"`) });
    }
    // /moved: a redirect within the API; /away?to=<url>: a redirect out of it.
    if (url.pathname === `${path}/moved`) return void res.writeHead(302, { Location: `${path}/me` }).end();
    if (url.pathname === `${path}/away`) return void res.writeHead(302, { Location: url.searchParams.get("to") ?? "/" }).end();
    if (url.pathname === `${path}/projects`) return json(200, { projects: [{ id: 1, name: "notebooks" }], sub: claims.sub });
    return json(200, { sub: claims.sub, scope: claims.scope, aud: claims.aud, client_id: claims.client_id, message: `Hello, ${claims.sub}!` });
  });

  return {
    resource,
    origin,
    metadataUrl,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve(undefined));
        server.closeAllConnections();
      }),
  };
}
