// A small OAuth authorization server whose every answer a test can replace (the hostile suite's
// stand-in for a provider): discovery, an /authorize that redirects straight back with a code (no
// login form), a token endpoint checking PKCE and rotating refresh tokens, and /revoke. Everything
// it issues or receives is recorded as a secret, never to be visible.
import { createHash, randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { forgetMetadata } from "../../src/protocol/metadata-memo.js";
import type { CaseContext } from "./hostile.js";
import { startServer, type Handler } from "./servers.js";

export interface FakeAsOptions {
  /** Serve https with this certificate. */
  tls?: { key: string; cert: string };
  /** Loopback address to listen on. @default "127.0.0.1" */
  host?: string;
  /** Fields to add to (or, with undefined, remove from) the discovery document. */
  metadata?: Record<string, unknown>;
  /** Answer discovery requests (both well-known addresses) yourself. */
  discovery?: Handler;
  /** Answer token requests yourself; `form` is the request body, its code and verifier already recorded as secrets. */
  token?: (req: IncomingMessage, res: ServerResponse, form: URLSearchParams) => void;
  /** Offer pushed authorization requests (RFC 9126) at /par, answered by this handler. */
  par?: Handler;
  /** Change the redirect back to the client before it is sent (tampering by the "server"). */
  callback?: (params: URLSearchParams) => void;
}

export interface FakeAs {
  issuer: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  /** Codes, verifiers, access and refresh tokens it issued or received: never to be visible. */
  secrets: Set<string>;
  /** Requests by path. */
  hits: Map<string, number>;
  /** Access tokens issued, in order. */
  accessTokens: string[];
  options: FakeAsOptions;
  close(): Promise<void>;
}

const b64url = (bytes: Buffer): string => bytes.toString("base64url");
const random = (): string => b64url(randomBytes(32));

export async function startFakeAs(options: FakeAsOptions = {}): Promise<FakeAs> {
  const codes = new Map<string, { challenge: string; redirectUri: string }>();
  const refreshTokens = new Set<string>();
  const secrets = new Set<string>();
  const hits = new Map<string, number>();
  const accessTokens: string[] = [];
  let issuer = "";

  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", connection: "close" }).end(JSON.stringify(body));
  };
  const issue = (res: ServerResponse): void => {
    const access = random();
    const refresh = random();
    refreshTokens.add(refresh);
    secrets.add(access).add(refresh);
    accessTokens.push(access);
    json(res, 200, { access_token: access, token_type: "Bearer", expires_in: 3600, refresh_token: refresh, scope: "api" });
  };
  const document = (): Record<string, unknown> => {
    const doc: Record<string, unknown> = {
      issuer,
      authorization_endpoint: `${issuer}/authorize`,
      token_endpoint: `${issuer}/token`,
      revocation_endpoint: `${issuer}/revoke`,
      response_types_supported: ["code"],
      code_challenge_methods_supported: ["S256"],
      authorization_response_iss_parameter_supported: true,
    };
    if (fake.options.par) doc.pushed_authorization_request_endpoint = `${issuer}/par`;
    for (const [key, value] of Object.entries(fake.options.metadata ?? {})) {
      if (value === undefined) delete doc[key];
      else doc[key] = value;
    }
    return doc;
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? "/", "http://x");
    hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
    if (url.pathname.startsWith("/.well-known/")) {
      if (fake.options.discovery) return fake.options.discovery(req, res);
      if (url.pathname !== "/.well-known/openid-configuration") return void res.writeHead(404, { connection: "close" }).end();
      return json(res, 200, document());
    }
    if (url.pathname === "/authorize") {
      const q = url.searchParams;
      const redirect = q.get("redirect_uri") ?? "";
      const code = random();
      codes.set(code, { challenge: q.get("code_challenge") ?? "", redirectUri: redirect });
      secrets.add(code);
      const back = new URL(redirect);
      back.searchParams.set("code", code);
      back.searchParams.set("state", q.get("state") ?? "");
      back.searchParams.set("iss", issuer);
      fake.options.callback?.(back.searchParams);
      res.writeHead(302, { location: back.href, connection: "close" }).end();
      return;
    }
    if (url.pathname === "/par" && fake.options.par) return fake.options.par(req, res);
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
      for (const key of ["code", "code_verifier", "refresh_token", "token"]) {
        const value = form.get(key);
        if (value) secrets.add(value);
      }
      if (url.pathname === "/token") {
        if (fake.options.token) return fake.options.token(req, res, form);
        if (form.get("grant_type") === "authorization_code") {
          const grant = codes.get(form.get("code") ?? "");
          codes.delete(form.get("code") ?? "");
          const verifier = form.get("code_verifier") ?? "";
          const challenge = b64url(createHash("sha256").update(verifier).digest());
          if (!grant || grant.challenge !== challenge || grant.redirectUri !== form.get("redirect_uri")) {
            return json(res, 400, { error: "invalid_grant", error_description: "unknown code, or PKCE/redirect_uri mismatch" });
          }
          return issue(res);
        }
        if (form.get("grant_type") === "refresh_token") {
          const old = form.get("refresh_token") ?? "";
          if (!refreshTokens.delete(old)) return json(res, 400, { error: "invalid_grant" });
          return issue(res);
        }
        return json(res, 400, { error: "unsupported_grant_type" });
      }
      if (url.pathname === "/revoke") return void res.writeHead(200, { connection: "close" }).end();
      res.writeHead(404, { connection: "close" }).end();
    });
  };

  const server = await startServer(handler, { tls: options.tls, host: options.host });
  issuer = server.url;
  const fake: FakeAs = {
    issuer,
    authorizationEndpoint: `${issuer}/authorize`,
    tokenEndpoint: `${issuer}/token`,
    secrets,
    hits,
    accessTokens,
    options,
    close: server.close,
  };
  return fake;
}

/** Runs `fn` with a fresh authorization server; what it issued becomes the case's secrets. */
export async function withFakeAs<T>(ctx: CaseContext, options: FakeAsOptions, fn: (as: FakeAs) => Promise<T>): Promise<T> {
  const as = await startFakeAs(options);
  forgetMetadata();
  try {
    return await fn(as);
  } finally {
    ctx.secret(...as.secrets);
    await as.close();
  }
}
