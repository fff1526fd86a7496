// One road for every request that authenticates the client (#24 §3): against a server that refuses
// the Basic header for a client registered for client_secret_post (401 invalid_client, metadata
// listing both methods), the code exchange, a refresh, the device authorization request and its
// polls, client credentials, a pushed authorization request and revocation all retry once with the
// secret in the body, keep that method, and word a refusal the same way. The server is a real
// oidc-provider; the refusal of Basic is a small gate in front of it (oidc-provider itself accepts
// Basic for such a client, which the servers of the field do not).
import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import { after, beforeEach, describe, test } from "node:test";
import { request } from "undici";
import { POST_CLIENT_ID, SERVICE_CLIENT_ID, startDemoIdp } from "../demo/idp.js";
import { login, logout, LoginError, type LoginConfig } from "../src/index.js";
import { isolateCache, type DemoIdp } from "./support/fixtures.js";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ScriptedUserAgent } from "./support/user-agent.js";

type How = "basic" | "post" | "none";
interface Gated {
  idp: DemoIdp;
  /** How each client-authenticated request sent the client's credentials, by path, in order. */
  seen: Record<string, How[]>;
}

const secret = "post-only-secret_4a1f-9c";
const CLIENT_PATHS = new Set(["/token", "/device/auth", "/request", "/token/revocation"]);

/** oidc-provider behind a gate that answers 401 invalid_client to Basic credentials of these clients. */
async function gated(options: Parameters<typeof startDemoIdp>[0], refuseBasicFor: string[]): Promise<Gated> {
  const idp = await startDemoIdp(options);
  const seen: Record<string, How[]> = {};
  const inner = idp.server.listeners("request") as ((req: IncomingMessage, res: ServerResponse) => void)[];
  idp.server.removeAllListeners("request");
  idp.server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "").split("?")[0]!;
    if (req.method !== "POST" || !CLIENT_PATHS.has(path)) return inner.forEach((listener) => listener(req, res));
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const basic = req.headers.authorization?.startsWith("Basic ")
        ? Buffer.from(req.headers.authorization.slice(6), "base64").toString().split(":")[0]
        : undefined;
      (seen[path] ??= []).push(basic !== undefined ? "basic" : new URLSearchParams(body).has("client_secret") ? "post" : "none");
      if (basic !== undefined && refuseBasicFor.includes(decodeURIComponent(basic))) {
        return void res
          .writeHead(401, { "content-type": "application/json", "www-authenticate": 'Basic realm="token"', connection: "close" })
          .end(JSON.stringify({ error: "invalid_client", error_description: "client authentication failed" }));
      }
      Object.assign(req, { body }); // oidc-provider takes an already read body from req.body
      inner.forEach((listener) => listener(req, res));
    });
  });
  return { idp, seen };
}

let cacheDir = "";
beforeEach(() => {
  cacheDir = isolateCache();
});

const open: Gated[] = [];
after(() => Promise.all(open.map((g) => g.idp.close())));
async function server(options: Parameters<typeof startDemoIdp>[0] = {}): Promise<Gated> {
  const g = await gated({ clientSecret: secret, deviceInterval: 1, ...options }, [POST_CLIENT_ID, SERVICE_CLIENT_ID]);
  open.push(g);
  return g;
}

async function apiStatus(idp: DemoIdp, authorization: string): Promise<number> {
  const res = await request(`${idp.issuer}/api/me`, { headers: { authorization } });
  await res.body.dump();
  return res.statusCode;
}

function expireSaved(): void {
  const path = join(cacheDir, "tokens.json");
  const data = JSON.parse(readFileSync(path, "utf8")) as Record<string, { expiresAt?: number; obtainedAt: number }>;
  for (const entry of Object.values(data)) [entry.obtainedAt, entry.expiresAt] = [Date.now() - 3_600_000, Date.now() - 1000];
  writeFileSync(path, JSON.stringify(data));
}

describe("a server that refuses Basic for a client_secret_post client", () => {
  test("the code exchange retries once with post; the refresh and revocation then use post at once", async () => {
    const { idp, seen } = await server();
    const config: LoginConfig = {
      issuer: idp.issuer,
      clientId: POST_CLIENT_ID,
      clientSecret: secret,
      flow: "loopback",
      scopes: ["openid"],
      openBrowser: new ScriptedUserAgent().open,
    };
    const headers = await login(config);
    assert.equal(await apiStatus(idp, headers.Authorization), 200);
    assert.deepEqual(seen["/token"], ["basic", "post"]);
    expireSaved();
    const refreshed = await login({ ...config, openBrowser: () => assert.fail("a refresh, not a browser") });
    assert.equal(await apiStatus(idp, refreshed.Authorization), 200);
    assert.deepEqual(seen["/token"], ["basic", "post", "post"], "the refresh used the learned method");
    const out = await logout(config);
    assert.deepEqual(out.revoked, ["refresh_token", "access_token"]);
    assert.deepEqual(seen["/token/revocation"], ["post", "post"]);
  });

  test('the device flow: the device authorization request retries with post (not "Could not reach"), its polls use post, and the saved sign-in keeps it', async () => {
    const { idp, seen } = await server({ deviceFlow: true });
    const config: LoginConfig = {
      issuer: idp.issuer,
      clientId: POST_CLIENT_ID,
      clientSecret: secret,
      flow: "device",
      scopes: ["openid"],
      openBrowser: new ScriptedUserAgent().open,
    };
    const headers = await login(config);
    assert.equal(await apiStatus(idp, headers.Authorization), 200);
    assert.deepEqual(seen["/device/auth"], ["basic", "post"]);
    assert.ok(seen["/token"]!.length >= 1 && seen["/token"]!.every((how) => how === "post"), `polls: ${seen["/token"]!.join(", ")}`);
    expireSaved();
    await login({ ...config, openBrowser: () => assert.fail("a refresh, not a browser") });
    assert.equal(seen["/token"]!.at(-1), "post");
    assert.equal(seen["/token"]!.filter((how) => how === "basic").length, 0);
  });

  test("the device flow with a wrong secret: both methods refused, worded as at the token endpoint", async () => {
    const { idp, seen } = await server({ deviceFlow: true });
    const error = await login({
      issuer: idp.issuer,
      clientId: POST_CLIENT_ID,
      clientSecret: "wrong-secret",
      flow: "device",
      openBrowser: () => assert.fail("no code to show"),
    }).catch((e: unknown) => e);
    assert.ok(error instanceof LoginError);
    assert.equal(error.code, "TOKEN_REQUEST_FAILED");
    assert.match(
      error.message,
      /The device authorization endpoint http:\S+\/device\/auth refused the client with its secret in the Basic header \(invalid_client\) and in the request body \(invalid_client: client authentication failed\)/,
    );
    assert.match(error.message, /Check `clientId` and `clientSecret`/);
    assert.doesNotMatch(error.message, /Could not reach|wrong-secret/);
    assert.deepEqual(seen["/device/auth"], ["basic", "post"]);
  });

  test("client credentials retry with post", async () => {
    const { idp, seen } = await server();
    const headers = await login({ issuer: idp.issuer, clientId: SERVICE_CLIENT_ID, clientSecret: secret, grant: "client_credentials" });
    assert.equal(await apiStatus(idp, headers.Authorization), 200);
    assert.deepEqual(seen["/token"], ["basic", "post"]);
  });

  test("a pushed authorization request retries with post, and the code exchange after it uses post at once", async () => {
    const { idp, seen } = await server({ par: true });
    const headers = await login({
      issuer: idp.issuer,
      clientId: POST_CLIENT_ID,
      clientSecret: secret,
      flow: "loopback",
      scopes: ["openid"],
      openBrowser: new ScriptedUserAgent().open,
    });
    assert.equal(await apiStatus(idp, headers.Authorization), 200);
    assert.deepEqual(seen["/request"], ["basic", "post"]);
    assert.deepEqual(seen["/token"], ["post"]);
  });
});
