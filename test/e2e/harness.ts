// End-to-end harness: a real tslab kernel under Jupyter (nbclient), a real Chromium driven by
// playwright-core, and the real demo provider. Missing Jupyter or Chromium is a failure with the
// command that installs them, never a skip.
//
// The tests pick their own ports, so that they run while `npm start` serves the demo at the address
// the shipped notebooks name (127.0.0.1:9400, its API at :9401): each notebook runs as a copy beside
// it with that address changed to the tests' own, and what it shows is read back with the shipped
// address, which the assertions name.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { registerKernel } from "../../demo/start.js";
import { portIsFree } from "../support/leaks.js";
import { freePort } from "../support/proxy.js";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const CHROMIUM = "/usr/bin/chromium";
/** The ports the shipped notebooks name (`npm start`'s), and the tests' own pair (provider, API). */
export const SHIPPED_PORT = 9400;
async function freePair(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port < 65000 && port !== SHIPPED_PORT && port !== SHIPPED_PORT + 1 && (await portIsFree(port + 1))) return port;
  }
}
export const DEMO_PORT = await freePair();
export const API_PORT = DEMO_PORT + 1;
export const ISSUER = `http://127.0.0.1:${DEMO_PORT}`;

/**
 * Takes the shipped demo ports, as a running `npm start` does, when they are free: the notebook
 * tests prove at every run that they need neither. Returns what releases them.
 */
export async function occupyShippedPorts(): Promise<() => Promise<void>> {
  const servers: Server[] = [];
  for (const port of [SHIPPED_PORT, SHIPPED_PORT + 1]) {
    if (!(await portIsFree(port))) continue; // a real `npm start`, most likely: all the better
    const server = createServer((_req, res) => res.writeHead(503).end("npm start stand-in"));
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    servers.push(server);
  }
  return async () => {
    for (const server of servers) await new Promise((resolve) => server.close(resolve));
  };
}

/** The notebook's text with the shipped demo address changed to the tests' own, or back (one pass, whole port numbers only). */
function mapPorts(text: string, direction: "to tests" | "to shipped"): string {
  const table = new Map<string, string>(
    direction === "to tests"
      ? [
          [String(SHIPPED_PORT), String(DEMO_PORT)],
          [String(SHIPPED_PORT + 1), String(API_PORT)],
        ]
      : [
          [String(DEMO_PORT), String(SHIPPED_PORT)],
          [String(API_PORT), String(SHIPPED_PORT + 1)],
        ],
  );
  return text.replace(/127\.0\.0\.1(:|%3A)(\d+)(?!\d)/g, (all, colon: string, port: string) => {
    const mapped = table.get(port);
    return mapped ? `127.0.0.1${colon}${mapped}` : all;
  });
}

export function requireSystemParts(): void {
  const missing: string[] = [];
  if (!existsSync(CHROMIUM)) missing.push("chromium");
  if (spawnSync("/usr/bin/python3", ["-c", "import nbclient, jupyter_client, nbformat"], { stdio: "ignore" }).status !== 0)
    missing.push("Jupyter (nbclient, jupyter_client)");
  if (missing.length > 0) {
    throw new Error(`missing ${missing.join(" and ")}: run \`sh scripts/install-system-deps.sh\` (apt), then the tests again`);
  }
}

export interface Event {
  event: "iopub" | "cell_start" | "done" | "interrupted" | "input_request";
  cell?: number;
  msg_type?: string;
  content?: Record<string, unknown> & { data?: Record<string, string>; transient?: { display_id?: string }; name?: string; text?: string };
}

const tempDirs: string[] = [];
/** A temporary directory removed when the test process exits. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}
process.once("exit", () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** Chromium with the flags that keep it quiet offline. */
export async function launchChromium(): Promise<{ browser: Browser }> {
  const profile = tempDir("tslab-oauth-chromium-");
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      // The provider's dev pages import web fonts from the internet.
      "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
    ],
    env: { ...process.env, XDG_CONFIG_HOME: profile, HOME: profile },
  });
  return { browser };
}

/** Fills in the demo provider's login and consent pages in a real tab, as a person would. */
export async function submitLoginAndConsent(page: Page, name = "alice"): Promise<void> {
  await page.waitForSelector('input[name="login"]', { timeout: 15_000 });
  await page.fill('input[name="login"]', name);
  await page.fill('input[name="password"]', "any password");
  await page.click('button[type="submit"]');
  await page.waitForSelector('form button[type="submit"]', { timeout: 15_000 });
  await page.click('form button[type="submit"]');
}

/**
 * Signs in in a tab that stays open, and returns the text of the page it ends on. A browser that
 * already has a session at the provider (a second sign-in, a step-up for more scopes) sees only
 * the consent page, or nothing at all.
 */
export async function signInOnPage(page: Page, name = "alice"): Promise<string> {
  const first = await Promise.race([
    page.waitForSelector('input[name="login"]', { timeout: 15_000 }).then(() => "login" as const),
    page.waitForURL(/\/interaction\//, { timeout: 15_000 }).then(async () => {
      await page.waitForSelector('form button[type="submit"], input[name="login"]', { timeout: 15_000 });
      return (await page.$('input[name="login"]')) ? ("login" as const) : ("consent" as const);
    }),
    page.waitForURL(/\/signed-in$/, { timeout: 15_000 }).then(() => "done" as const),
  ]);
  if (first === "login") await submitLoginAndConsent(page, name);
  else if (first === "consent") await page.click('form button[type="submit"]');
  await page.waitForURL(/\/signed-in$/, { timeout: 15_000 });
  return (await page.textContent("body")) ?? "";
}

/**
 * A stand-in for the desktop's browser launcher: `$BROWSER` (honoured by xdg-open, which the
 * `open` package runs) is a tiny script that hands the URL to this server, which opens it in
 * Chromium like a launcher would (a tab no script opened) and signs in there, as `name`.
 */
export async function startBrowserBridge(
  context: BrowserContext,
  name = "alice",
): Promise<{ browserEnv: string; opened: { url: string; finalText: Promise<string>; callbacks: string[] }[]; close: () => Promise<void> }> {
  const opened: { url: string; finalText: Promise<string>; callbacks: string[] }[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1").searchParams.get("url");
    res.end("ok");
    if (!url) return;
    const callbacks: string[] = [];
    const finalText = (async () => {
      const page = await context.newPage();
      page.on("request", (r) => {
        if (r.url().includes("/callback?")) callbacks.push(r.url());
      });
      await page.goto(url);
      return signInOnPage(page, name);
    })();
    finalText.catch(() => {});
    opened.push({ url, finalText, callbacks });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  const dir = tempDir("tslab-oauth-bridge-");
  const script = join(dir, "browser.sh");
  writeFileSync(
    script,
    `#!/bin/sh\n"${process.execPath}" -e 'fetch(process.argv[1] + encodeURIComponent(process.argv[2])).catch(() => {})' "http://127.0.0.1:${port}/open?url=" "$1" >/dev/null 2>&1 &\n`,
  );
  chmodSync(script, 0o755);
  return {
    browserEnv: script,
    opened,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export interface NotebookRun {
  events: Event[];
  notebook: {
    cells: {
      cell_type: string;
      source: string | string[];
      outputs?: { output_type: string; data?: Record<string, unknown>; text?: string | string[]; name?: string }[];
    }[];
  };
  savedText: string;
}

let jupyterPath: string | undefined;

/**
 * Executes a notebook with nbclient in a tslab kernel and saves it. `onEvent` sees every iopub
 * message as it arrives and may send commands (`interrupt`).
 */
export async function runNotebook(
  path: string,
  options: {
    env?: Record<string, string>;
    onEvent?: (event: Event, send: (command: string) => void) => void;
    timeoutSeconds?: number;
    /** The kernel's token cache directory; a fresh empty one unless given (to share between runs). */
    cacheDir?: string;
    /** The kernel spec: "tslab" (default), "jslab" or "deno". */
    kernel?: "tslab" | "jslab" | "deno";
    /** Answer the kernel's input requests (`answer <text>` commands); otherwise it has no stdin. */
    stdin?: boolean;
  } = {},
): Promise<NotebookRun> {
  jupyterPath ??= registerKernel();
  const out = join(tempDir("tslab-oauth-nb-"), "out.ipynb");
  // A copy beside the notebook (same folder: same imports and relative paths), at the tests' ports.
  const shipped = path;
  path = join(dirname(shipped), `.e2e-${process.pid}-${Math.random().toString(36).slice(2, 8)}-${basename(shipped)}`);
  writeFileSync(path, mapPorts(readFileSync(shipped, "utf8"), "to tests"));
  const cacheDir = options.cacheDir ?? tempDir("tslab-oauth-nb-cache-");
  const child = spawn(
    "/usr/bin/python3",
    [
      join(ROOT, "test", "e2e", "run_notebook.py"),
      path,
      out,
      dirname(path),
      String(options.timeoutSeconds ?? 90),
      options.kernel ?? "tslab",
      options.stdin ? "stdin" : "no-stdin",
    ],
    {
      env: { ...process.env, JUPYTER_PATH: jupyterPath, TSLAB_OAUTH_CACHE_DIR: cacheDir, ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  const events: Event[] = [];
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const send = (command: string): void => void child.stdin.write(`${command}\n`);
  let buffer = "";
  child.stdout.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    let newline: number;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      if (!line.startsWith("{")) continue;
      const event = JSON.parse(line) as Event;
      events.push(event);
      options.onEvent?.(event, send);
    }
  });
  const code = await new Promise<number | null>((r) => child.on("exit", r));
  rmSync(path, { force: true });
  if (code !== 0 || !existsSync(out)) throw new Error(`notebook run failed (exit ${code}): ${stderr.slice(-2000)}`);
  const savedText = mapPorts(readFileSync(out, "utf8"), "to shipped");
  const shown = events.map((event) => JSON.parse(mapPorts(JSON.stringify(event), "to shipped")) as Event);
  return { events: shown, notebook: JSON.parse(savedText) as NotebookRun["notebook"], savedText };
}

/** The text of a saved cell's outputs. */
/**
 * Interrupts the kernel while the sign-in listens on `port` (checked first), then waits for the
 * port to be free: resolves with how long that took; fails if it is still taken after 2 s.
 */
export async function interruptAndTimePortRelease(port: number, send: (command: string) => void): Promise<number> {
  assert.equal(await portIsFree(port), false, "the listener is up while the cell waits");
  send("interrupt");
  const t0 = Date.now();
  while (!(await portIsFree(port))) {
    if (Date.now() - t0 > 2000) throw new Error("port still taken 2 s after the interrupt");
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - t0;
}

export function outputText(run: NotebookRun, cell: number): string {
  return (run.notebook.cells[cell]?.outputs ?? []).map((o) => [o.text, ...Object.values(o.data ?? {})].flat().filter(Boolean).join("")).join("\n");
}

/** Any JWT (an ID token) anywhere in the text. */
export const JWT_PATTERN = /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\./;

/**
 * What must never land in a notebook, recorded from the provider as it works: every bearer token
 * the API and userinfo received, every authorization code, and every `state`, `nonce` and PKCE
 * challenge of an authorization request. `secretsIn(text)` lists the ones found in `text`.
 */
export function recordSecrets(idp: { server: import("node:http").Server; provider: { on(event: string, listener: (...args: never[]) => void): unknown } }): {
  bearerTokens: string[];
  codes: string[];
  signInParameters: string[];
  secretsIn: (text: string, extra?: string[]) => string[];
} {
  const bearerTokens: string[] = [];
  const codes: string[] = [];
  const signInParameters: string[] = [];
  idp.server.prependListener("request", (req) => {
    // Bearer and DPoP-bound access tokens alike.
    const auth = /^(?:Bearer|DPoP) (\S+)$/i.exec(req.headers.authorization ?? "");
    if (auth) bearerTokens.push(auth[1]!);
    const url = new URL(req.url ?? "/", ISSUER);
    if (url.pathname === "/auth") for (const name of ["state", "nonce", "code_challenge"]) signInParameters.push(...url.searchParams.getAll(name));
  });
  idp.provider.on("authorization_code.saved", (code: { jti: string }) => codes.push(code.jti));
  const secretsIn = (text: string, extra: string[] = []): string[] => {
    const found = [...bearerTokens, ...codes, ...signInParameters, ...extra].filter((s) => s.length >= 8 && text.includes(s)).map((s) => `${s.slice(0, 4)}…`);
    if (JWT_PATTERN.test(text)) found.push("a JWT");
    return found;
  };
  return { bearerTokens, codes, signInParameters, secretsIn };
}
