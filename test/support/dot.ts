// django-oauth-toolkit, the real thing: Debian's python3-django-oauth-toolkit 1.7 in the minimal
// Django project of test/dot, started on a free loopback port by /usr/bin/python3 and stopped
// when the test file ends. A missing package is an error naming the install command, never a skip.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { request } from "undici";

const SERVE = fileURLToPath(new URL("../../../test/dot/serve.py", import.meta.url));
const PYTHON = "/usr/bin/python3";

export interface DotApplication {
  clientId: string;
  clientType?: "public" | "confidential";
  clientSecret?: string;
  redirectUris: string[];
}

export interface DotSpec {
  users: { username: string; password: string }[];
  applications: DotApplication[];
  /** ACCESS_TOKEN_EXPIRE_SECONDS. @default 3600 */
  accessTokenTtl?: number;
  /** PKCE methods the server accepts. @default ["S256", "plain"] */
  pkceMethods?: ("S256" | "plain")[];
  /** List `code_challenge_methods_supported` in discovery (stock DOT 1.7 does not). */
  advertisePkce?: boolean;
}

export interface DotServer {
  /** `http://127.0.0.1:<port>/o`, as DOT names itself in discovery and ID tokens. */
  issuer: string;
  origin: string;
  /** Requests seen by the server, by path. */
  requests(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

export async function startDot(spec: DotSpec): Promise<DotServer> {
  const child: ChildProcess = spawn(PYTHON, [SERVE, JSON.stringify(spec)], {
    // oauthlib refuses plain http unless told the transport is safe (loopback only, here).
    env: { ...process.env, OAUTHLIB_INSECURE_TRANSPORT: "1", PYTHONDONTWRITEBYTECODE: "1" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<never>((_, reject) => {
    child.once("error", (error) =>
      reject(new Error(`could not start ${PYTHON}: ${error.message}. Run: apt-get install python3-django-oauth-toolkit`, { cause: error })),
    );
    child.once("exit", (code) =>
      reject(new Error(`django-oauth-toolkit exited (${code}) before serving. Install it with: apt-get install python3-django-oauth-toolkit\n${stderr}`)),
    );
  });
  exited.catch(() => {});
  const lines = createInterface({ input: child.stdout! });
  const first = new Promise<string>((resolve) => lines.once("line", resolve));
  const ready = JSON.parse(await Promise.race([first, exited])) as { port: number; issuer: string };
  lines.close();
  const origin = `http://127.0.0.1:${ready.port}`;
  return {
    issuer: ready.issuer,
    origin,
    async requests() {
      const res = await request(`${origin}/_test/requests`);
      return (await res.body.json()) as Record<string, number>;
    },
    async close() {
      if (child.exitCode !== null) return;
      const gone = new Promise((resolve) => child.once("exit", resolve));
      child.stdin!.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await gone;
      clearTimeout(timer);
    },
  };
}
