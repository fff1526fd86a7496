// A separate Node process that calls login(), the way a second kernel would. Used by the cache
// tests: argv[2] is the JSON LoginConfig (without functions). It loads everything first, prints
// "ready", and waits for a line on stdin before calling login(), so that several children start
// their logins at the same moment. It prints one JSON line: what the API answered with the token,
// a hash of the token (never the token), and the error code if login() failed.
//
// With "interactive" in argv[3], the scripted user agent signs in ("interactive-slow": after 1.5 s,
// a person finding the tab); otherwise a browser opening is a failure (the cache or a refresh had
// to do).
import { createHash } from "node:crypto";
import { createInterface } from "node:readline";
import { login, LoginError, type LoginConfig } from "../../src/index.js";
import { ScriptedUserAgent } from "./user-agent.js";

const { api, ...config } = JSON.parse(process.argv[2]!) as LoginConfig & { api: string };
const interactive = process.argv[3]?.startsWith("interactive") === true;
const slow = process.argv[3] === "interactive-slow";
let browserOpened = false;
const ua = new ScriptedUserAgent({ login: "carol" });

const lines = createInterface({ input: process.stdin });
process.stdout.write("ready\n");
await new Promise<void>((resolve) => lines.once("line", () => resolve()));
lines.close();

try {
  const headers = await login({
    ...config,
    openBrowser: (url) => {
      browserOpened = true;
      if (slow) setTimeout(() => void ua.open(url), 1500);
      else if (interactive) ua.open(url);
      else throw new Error("a browser was needed");
    },
    timeout: interactive ? 30 : 5,
  });
  const res = await fetch(api, { headers: headers });
  await res.body?.cancel();
  const token = headers.Authorization.slice("Bearer ".length);
  process.stdout.write(`${JSON.stringify({ status: res.status, token: createHash("sha256").update(token).digest("hex").slice(0, 16), browserOpened })}\n`);
} catch (error) {
  process.stdout.write(
    `${JSON.stringify({ error: error instanceof LoginError ? error.code : String(error), message: (error as Error).message, browserOpened })}\n`,
  );
}
