// An independent resource server: a real MCP server built with @modelcontextprotocol/sdk's own
// server auth helpers (test/support/mcp-server.ts), signed in to by its URL alone and called with
// the session's fetch, as a notebook exploring an MCP server would: JSON-RPC over Streamable HTTP.
import assert from "node:assert/strict";
import { after, beforeEach, test } from "node:test";
import { startDemoIdp } from "../demo/idp.js";
import { session } from "../src/index.js";
import { isolateCache } from "./support/fixtures.js";
import { startMcpServer } from "./support/mcp-server.js";
import { ScriptedUserAgent } from "./support/user-agent.js";

const idp = await startDemoIdp({ registration: "open", resourceIndicators: true });
const mcp = await startMcpServer(idp);
after(async () => {
  await mcp.close();
  await idp.close();
});
beforeEach(() => {
  isolateCache();
});

const rpc = (id: number, method: string, params: unknown): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
  body: JSON.stringify({ jsonrpc: "2.0", id, method, params }),
});

test("an MCP server (the SDK's requireBearerAuth and metadata router): signed in to by URL alone, its tool called with the session's fetch", async () => {
  const api = await session({ resource: mcp.url, flow: "loopback", openBrowser: new ScriptedUserAgent().open, timeout: 20 });
  assert.equal(api.resource, mcp.url);
  assert.equal(api.issuer, idp.issuer);
  const init = await api.fetch(
    mcp.url,
    rpc(1, "initialize", { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "notebook", version: "1" } }),
  );
  assert.equal(init.status, 200);
  const hello = (await init.json()) as { result: { serverInfo: { name: string } } };
  assert.equal(hello.result.serverInfo.name, "tslab-oauth-test");
  const call = await api.fetch(mcp.url, rpc(2, "tools/call", { name: "whoami", arguments: {} }));
  assert.equal(call.status, 200);
  const result = (await call.json()) as { result: { content: { text: string }[] } };
  const who = JSON.parse(result.result.content[0]!.text) as { client: string; scopes: string[] };
  assert.equal(who.client, api.clientId, "the client registered for us (RFC 7591)");
  assert.ok(who.scopes.includes("mcp:tools"), "the scope the server's metadata lists");
  // Without the session, the SDK's middleware answers 401 with its RFC 9728 challenge.
  const bare = await fetch(mcp.url, rpc(3, "tools/list", {}));
  assert.equal(bare.status, 401);
  assert.match(bare.headers.get("www-authenticate") ?? "", /resource_metadata="[^"]+\/\.well-known\/oauth-protected-resource\/mcp"/);
  assert.deepEqual(mcp.calls.slice(-1), [{ authorized: false }]);
});
