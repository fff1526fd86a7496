import type { IncomingMessage, ServerResponse } from "node:http";
import { startDemoIdp } from "../../demo/idp.js";

export type Seen = { path: string; params: URLSearchParams };
export type Idp = Awaited<ReturnType<typeof startDemoIdp>>;

/** A demo provider whose every request is recorded with its parameters (query and form body). */
export async function recordedIdp(options: Parameters<typeof startDemoIdp>[0]): Promise<Idp & { seen: Seen[] }> {
  const idp = await startDemoIdp(options);
  const seen: Seen[] = [];
  const inner = idp.server.listeners("request") as ((req: IncomingMessage, res: ServerResponse) => void)[];
  idp.server.removeAllListeners("request");
  idp.server.on("request", async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", idp.issuer);
    const params = new URLSearchParams(url.search);
    if (req.method === "POST" && /urlencoded/.test(req.headers["content-type"] ?? "")) {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks).toString();
      for (const [k, v] of new URLSearchParams(body)) params.append(k, v);
      // oidc-provider takes an already read body from req.body.
      Object.assign(req, { body });
    }
    seen.push({ path: url.pathname, params });
    for (const listener of inner) listener(req, res);
  });
  return Object.assign(idp, { seen });
}
