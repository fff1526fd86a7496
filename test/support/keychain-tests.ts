// What the keychain tests (keychain.test.ts with a Secret Service, keychain-fallback.test.ts without
// one) look at: the folder's files, its item in the Secret Service, a second process's login().
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { request } from "undici";
import { DEMO_CLIENT_ID } from "../../demo/idp.js";
import type { LoginConfig } from "../../src/index.js";
import type { DemoIdp } from "./fixtures.js";
import type { SecretService } from "./secret-service.js";

export function config(idp: DemoIdp, extra: Partial<LoginConfig> = {}): LoginConfig {
  return { issuer: idp.issuer, clientId: DEMO_CLIENT_ID, scopes: ["openid", "profile"], flow: "loopback", ...extra };
}
export const hash = (token: string): string => createHash("sha256").update(token).digest("hex").slice(0, 16);
export const token = (headers: { Authorization: string }): string => headers.Authorization.replace(/^(Bearer|DPoP) /, "");
export type Saved = Record<string, Record<string, unknown>>;
export const saved = (dir: string): Saved => JSON.parse(readFileSync(join(dir, "tokens.json"), "utf8")) as Saved;
/** Every byte under the folder, for "the token appears nowhere". */
export function folderText(dir: string): string {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => readFileSync(join(d.parentPath, d.name), "utf8"))
    .join("\n");
}
export async function api(idp: DemoIdp, bearer: string): Promise<number> {
  const res = await request(`${idp.issuer}/api/me`, { headers: { authorization: `Bearer ${bearer}` } });
  await res.body.dump();
  return res.statusCode;
}
/** The Secret Service's items for one folder (other tests' folders have their own). */
export async function folderItems(keyring: SecretService, dir: string): Promise<{ account: string; secret: string }[]> {
  const account = `tokens:${createHash("sha256").update(resolve(dir)).digest("hex").slice(0, 16)}`;
  return (await keyring.items()).filter((item) => item.account === account);
}
export const refuseBrowser = (): never => {
  throw new Error("a browser was opened");
};
export const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

export interface ChildResult {
  status?: number;
  token?: string;
  error?: string;
  message?: string;
  browserOpened: boolean;
  stderr: string;
}

/** login() in another process (a second kernel) on `dir`, on the given bus or with none; its stderr kept. */
export async function loginInChild(
  loginConfig: LoginConfig,
  options: { dir: string; bus: SecretService | undefined; interactive?: boolean },
): Promise<ChildResult> {
  const script = new URL("./cache-child.js", import.meta.url);
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.bus?.env, TSLAB_OAUTH_CACHE_DIR: options.dir };
  if (!options.bus) {
    delete env.DBUS_SESSION_BUS_ADDRESS;
    delete env.XDG_RUNTIME_DIR;
  }
  const arg = JSON.stringify({ ...loginConfig, api: `${loginConfig.issuer}/api/me` });
  const proc = spawn(process.execPath, [script.pathname, arg, options.interactive ? "interactive" : ""], { env, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  proc.stdout.on("data", (chunk: Buffer) => {
    out += chunk;
    if (out.includes("ready\n")) proc.stdin.end("go\n");
  });
  proc.stderr.on("data", (chunk: Buffer) => (err += chunk));
  await new Promise((done) => proc.once("exit", done));
  const line = out.split("\n").find((l) => l.startsWith("{"));
  if (!line) throw new Error(`the child printed no result: ${out} ${err}`);
  return { ...(JSON.parse(line) as { browserOpened: boolean }), stderr: err };
}
