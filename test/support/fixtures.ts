import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { startDemoIdp } from "../../demo/idp.js";
import { forgetMetadata } from "../../src/protocol/discovered.js";

export type DemoIdp = Awaited<ReturnType<typeof startDemoIdp>>;

let shared: Promise<DemoIdp> | undefined;
/** One real oidc-provider per test file (starting one costs ~100 ms for the RSA key). */
export function demoIdp(): Promise<DemoIdp> {
  shared ??= startDemoIdp();
  return shared;
}

export async function closeDemoIdp(): Promise<void> {
  if (shared) await (await shared).close();
  shared = undefined;
}

/** The loopback port of a login, read from the redirect_uri of its authorization URL. */
export function listenerUrl(authorizationUrl: string): URL {
  return new URL(new URL(authorizationUrl).searchParams.get("redirect_uri")!);
}

/** A tiny real HTTP server whose handler a test chooses (faulty token endpoints and the like). */
export async function startServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; server: Server; close: () => Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Raw HTTP to the listener, with full control over method, path and Host. */
export async function rawRequest(port: number, options: { method?: string; path: string; host?: string; host6?: boolean }): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  const { request } = await import("node:http");
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: options.host6 ? "::1" : "127.0.0.1",
        port,
        method: options.method ?? "GET",
        path: options.path,
        headers: { host: options.host ?? `127.0.0.1:${port}` },
        agent: false,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/**
 * A fresh, empty token cache directory for each test of this file (through $TSLAB_OAUTH_CACHE_DIR,
 * the way a user would move it), so that one test's sign-in is never another's cache hit. Removed
 * when the process ends. Returns the directory.
 */
export function isolateCache(): string {
  // Each test discovers afresh: a server started by an earlier test may have had the same port.
  forgetMetadata();
  const dir = mkdtempSync(join(tmpdir(), "tslab-oauth-cache-"));
  process.env.TSLAB_OAUTH_CACHE_DIR = dir;
  createdCacheDirs.push(dir);
  return dir;
}
const createdCacheDirs: string[] = [];
process.once("exit", () => {
  for (const dir of createdCacheDirs) rmSync(dir, { recursive: true, force: true });
});
