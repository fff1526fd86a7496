// A real MCP server, built the way the Model Context Protocol's TypeScript SDK tells server authors
// to protect one: its Streamable HTTP transport at /mcp behind the SDK's own bearer-auth middleware
// (`requireBearerAuth`, whose 401 names the protected resource metadata), and the SDK's metadata
// router (`mcpAuthMetadataRouter`, RFC 9728 at /.well-known/oauth-protected-resource/mcp). Tokens
// are verified as the SDK leaves it to the server: here, the demo provider's JWTs for this server
// (signature, issuer, `aud`). One tool, `whoami`, answers with the token's subject and scopes.
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import express from "express";
import { importJWK, jwtVerify } from "jose";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { requireBearerAuth } from "@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js";
import { getOAuthProtectedResourceMetadataUrl, mcpAuthMetadataRouter } from "@modelcontextprotocol/sdk/server/auth/router.js";
import { InvalidTokenError } from "@modelcontextprotocol/sdk/server/auth/errors.js";
import type { startDemoIdp } from "../../demo/idp.js";

type Idp = Awaited<ReturnType<typeof startDemoIdp>>;

export interface McpTestServer {
  /** The MCP endpoint, `http://127.0.0.1:<port>/mcp`: the resource to sign in to. */
  url: string;
  /** Calls seen at /mcp: whether each carried a token. */
  calls: { authorized: boolean }[];
  close(): Promise<void>;
}

export async function startMcpServer(idp: Idp, scopes = ["mcp:tools"]): Promise<McpTestServer> {
  const app = express();
  const listening: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const url = new URL(`http://127.0.0.1:${(listening.address() as AddressInfo).port}/mcp`);
  idp.addResource(url.href, scopes);
  const asMetadata = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as Parameters<
    typeof mcpAuthMetadataRouter
  >[0]["oauthMetadata"];
  const key = await importJWK(idp.publicJwk, "RS256");
  const calls: McpTestServer["calls"] = [];
  app.use((req, _res, next) => {
    if (req.path === "/mcp") calls.push({ authorized: req.headers.authorization !== undefined });
    next();
  });
  app.use(mcpAuthMetadataRouter({ oauthMetadata: asMetadata, resourceServerUrl: url, scopesSupported: scopes, resourceName: "tslab-oauth test MCP server" }));
  const auth = requireBearerAuth({
    verifier: {
      async verifyAccessToken(token: string) {
        try {
          const { payload } = await jwtVerify(token, key, { issuer: idp.issuer, audience: url.href });
          return { token, clientId: String(payload.client_id), scopes: String(payload.scope ?? "").split(" "), expiresAt: payload.exp, resource: url };
        } catch (cause) {
          throw new InvalidTokenError(`token refused: ${(cause as Error).message}`);
        }
      },
    },
    requiredScopes: scopes,
    resourceMetadataUrl: getOAuthProtectedResourceMetadataUrl(url),
  });
  app.post("/mcp", express.json(), auth, async (req, res) => {
    const server = new McpServer({ name: "tslab-oauth-test", version: "1.0.0" });
    server.registerTool("whoami", { description: "Who the token belongs to" }, async (extra) => ({
      content: [{ type: "text", text: JSON.stringify({ client: extra.authInfo?.clientId, scopes: extra.authInfo?.scopes }) }],
    }));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on("close", () => void transport.close());
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
  return {
    url: url.href,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        listening.close(() => resolve());
        listening.closeAllConnections();
      }),
  };
}
