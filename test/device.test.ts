// The device authorization grant (RFC 8628) and flow selection, against a real oidc-provider with
// its device flow enabled, signed in by the scripted user agent on the verification pages.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, beforeEach, test } from "node:test";
import { request } from "undici";
import { DEMO_CLIENT_ID, startDemoIdp } from "../demo/idp.js";
import { remoteReason } from "../src/flows/detect.js";
import { login, LoginError, type LoginConfig } from "../src/index.js";
import { isolateCache, type DemoIdp } from "./support/fixtures.js";
import { captureOutput } from "./support/capture.js";
import { assertNoSecret, openHandles, visibleText } from "./support/leaks.js";
import { ScriptedUserAgent } from "./support/user-agent.js";

let idp: DemoIdp;
before(async () => {
  idp = await startDemoIdp({ deviceFlow: true, deviceInterval: 1 });
});
after(async () => {
  await idp.close();
});
beforeEach(() => {
  isolateCache();
});

function config(extra: Partial<LoginConfig> = {}): LoginConfig {
  return { issuer: idp.issuer, clientId: DEMO_CLIENT_ID, scopes: ["openid", "profile"], flow: "device", ...extra };
}

async function api(server: DemoIdp, token: string): Promise<number> {
  const res = await request(`${server.issuer}/api/me`, { headers: { authorization: `Bearer ${token}` } });
  await res.body.dump();
  return res.statusCode;
}

/** Timestamps of the device-code polls the server received. */
function watchPolls(server: DemoIdp): { times: number[]; stop: () => void } {
  const times: number[] = [];
  const listener = (req: { url?: string; method?: string }): void => {
    if (req.method === "POST" && req.url === "/token") times.push(Date.now());
  };
  server.server.prependListener("request", listener);
  return { times, stop: () => server.server.off("request", listener) };
}

test("device flow: openBrowser gets verification_uri_complete, the user approves there, the tokens work and are saved", async () => {
  const ua = new ScriptedUserAgent({ login: "hana" });
  const opened: string[] = [];
  const headers = await login(config({ openBrowser: (url) => (opened.push(url), ua.open(url)) }));
  assert.equal(opened.length, 1);
  const url = new URL(opened[0]!);
  assert.equal(url.pathname, "/device");
  assert.match(url.searchParams.get("user_code") ?? "", /^[A-Z]{4}-[A-Z]{4}$/);
  assert.match((await ua.last!).finalBody, /Sign-in Success/);
  assert.equal(await api(idp, headers.Authorization.slice(7)), 200);

  // Into the same cache as the loopback flow: the next login needs nothing.
  const requests = idp.requestCount();
  const again = await login(config({ openBrowser: () => assert.fail("no browser the second time") }));
  assert.equal(again.Authorization, headers.Authorization);
  assert.equal(idp.requestCount(), requests);
});

test("device flow: the user types the code at verification_uri (shown on stderr in a terminal)", async () => {
  let stderr = "";
  const { value: headers } = await captureOutput(
    () =>
      login(
        config({
          openBrowser: () => {
            // A person reads the terminal, opens the short address elsewhere and types the code.
            setImmediate(() => {
              const match = /open (\S+) on any device and enter the code (\S+)/.exec(stderr)!;
              void new ScriptedUserAgent({ userCode: match[2] }).visit(match[1]!);
            });
          },
        }),
      ),
    (text, stream) => {
      if (stream === "stderr") stderr += text;
    },
  );
  assert.match(stderr, /To sign in, open http:\/\/127\.0\.0\.1:\d+\/device on any device and enter the code [A-Z]{4}-[A-Z]{4} \(or directly: /);
  assert.equal(await api(idp, headers.Authorization.slice(7)), 200);
});

test("device flow: polling honours interval, and waits 5 s more after slow_down (RFC 8628 §3.5)", async () => {
  const slow = await startDemoIdp({ deviceFlow: true, deviceInterval: 1, slowDownOnce: true });
  const polls = watchPolls(slow);
  try {
    const started = Date.now();
    const headers = await login(config({ issuer: slow.issuer, openBrowser: new ScriptedUserAgent().open }));
    assert.equal(await api(slow, headers.Authorization.slice(7)), 200);
    assert.equal(polls.times.length, 2, "one poll answered slow_down, the next one got the tokens");
    const [first, second] = polls.times as [number, number];
    assert.ok(first - started >= 950, `the first poll waited the interval (${first - started} ms)`);
    assert.ok(second - first >= 5950, `after slow_down the interval grew to 6 s (${second - first} ms)`);
  } finally {
    polls.stop();
    await slow.close();
  }
});

test("device flow: a code nobody enters expires (expired_token from the server): TIMEOUT, nothing left running", async () => {
  const short = await startDemoIdp({ deviceFlow: true, deviceInterval: 1, deviceCodeTtl: 2 });
  try {
    const before = await openHandles();
    const error = await login(config({ issuer: short.issuer, openBrowser: false })).catch((e: unknown) => e);
    assert.ok(error instanceof LoginError, String(error));
    assert.equal(error.code, "TIMEOUT");
    assert.equal(error.error, "expired_token");
    assert.ok(error.cause, "the server's answer is the cause");
    assert.match(error.message, /Run the cell again for a new code/);
    assert.deepEqual(await openHandles(), before);
  } finally {
    await short.close();
  }
});

test("device flow: the user cancels at the verification page: AUTHORIZATION_DENIED (access_denied)", async () => {
  const error = await login(config({ openBrowser: new ScriptedUserAgent({ deny: true }).open })).catch((e: unknown) => e);
  assert.ok(error instanceof LoginError, String(error));
  assert.equal(error.code, "AUTHORIZATION_DENIED");
  assert.equal(error.error, "access_denied");
});

test("device flow: an abort while polling ends at once with ABORTED; no timer left; no device code in the error", async () => {
  const controller = new AbortController();
  const before = await openHandles();
  let deviceUrl = "";
  const pending = login(config({ signal: controller.signal, openBrowser: (url) => void (deviceUrl = url) }));
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const t0 = Date.now();
  controller.abort();
  const error = await pending.catch((e: unknown) => e);
  assert.ok(error instanceof LoginError);
  assert.equal(error.code, "ABORTED");
  assert.ok(Date.now() - t0 < 200);
  assert.deepEqual(await openHandles(), before);
  assert.ok(deviceUrl);
  assert.doesNotMatch(visibleText(error), /device_code=/);
});

test('flow: "device" against a server without a device endpoint is a clear INVALID_CONFIG; flow: "manual" points to beginLogin()', async () => {
  const plain = await startDemoIdp();
  try {
    const error = await login(config({ issuer: plain.issuer, openBrowser: false })).catch((e: unknown) => e);
    assert.ok(error instanceof LoginError);
    assert.equal(error.code, "INVALID_CONFIG");
    assert.match(error.message, /advertises none/);
    const manual = await login(config({ flow: "manual" })).catch((e: unknown) => e);
    assert.ok(manual instanceof LoginError);
    assert.equal(manual.code, "INVALID_CONFIG");
    assert.match(manual.message, /beginLogin/);
  } finally {
    await plain.close();
  }
});

test("remote detection: each signal, and a local desktop", () => {
  const none = (): boolean => false;
  const cases: [NodeJS.ProcessEnv, NodeJS.Platform, (p: string) => boolean, RegExp | undefined][] = [
    [{ SSH_CONNECTION: "10.0.0.2 5555 10.0.0.1 22", DISPLAY: ":0" }, "linux", none, /SSH/],
    [{ SSH_TTY: "/dev/pts/1" }, "darwin", none, /SSH/],
    [{ JUPYTERHUB_API_URL: "http://hub/api", DISPLAY: ":0" }, "linux", none, /JupyterHub/],
    [{ CODESPACES: "true", DISPLAY: ":0" }, "linux", none, /Codespaces/],
    [{ COLAB_RELEASE_TAG: "x", DISPLAY: ":0" }, "linux", none, /Colab/],
    [{ KUBERNETES_SERVICE_HOST: "10.0.0.1", DISPLAY: ":0" }, "linux", none, /Kubernetes/],
    [{ DISPLAY: ":0" }, "linux", (p) => p === "/.dockerenv", /container/],
    [{ DISPLAY: ":0" }, "linux", (p) => p === "/run/.containerenv", /container/],
    [{}, "linux", none, /no display/],
    [{ DISPLAY: ":0" }, "linux", none, undefined],
    [{ WAYLAND_DISPLAY: "wayland-0" }, "linux", none, undefined],
    [{}, "darwin", none, undefined],
    [{}, "win32", none, undefined],
    [{ BROWSER: "/usr/bin/firefox" }, "linux", (p) => p === "/.dockerenv", undefined],
  ];
  for (const [env, platform, exists, expected] of cases) {
    const reason = remoteReason(env, platform, exists);
    if (expected) assert.match(reason ?? "", expected, JSON.stringify(env));
    else assert.equal(reason, undefined, JSON.stringify(env));
  }
});

/** login() with flow "auto" in a child process with `env`: which page it opened, and what it said. */
function autoInChild(env: NodeJS.ProcessEnv): Promise<{ opened: string; stderr: string }> {
  const script = `
    const { login } = await import(${JSON.stringify(new URL("../src/index.js", import.meta.url).href)});
    await login({ issuer: ${JSON.stringify(idp.issuer)}, clientId: ${JSON.stringify(DEMO_CLIENT_ID)}, scopes: ["openid"], cache: false,
      openBrowser: (url) => { process.stdout.write(url); process.exit(0); } });`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { env, stdio: ["ignore", "pipe", "pipe"] });
  let opened = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (opened += c));
  child.stderr.on("data", (c: Buffer) => (stderr += c));
  return new Promise((resolve) => child.on("exit", () => resolve({ opened, stderr })));
}

test('flow "auto" in a fresh process: each remote signal in the environment picks the device flow and says why', async () => {
  const base: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, DISPLAY: ":0", TSLAB_OAUTH_CACHE_DIR: process.env.TSLAB_OAUTH_CACHE_DIR };
  const signals: [NodeJS.ProcessEnv, RegExp][] = [
    [{ SSH_CONNECTION: "10.0.0.2 5555 10.0.0.1 22" }, /SSH session/],
    [{ JUPYTERHUB_USER: "ana" }, /JupyterHub \(\$JUPYTERHUB_USER\)/],
    [{ CODESPACES: "true" }, /Codespaces/],
    [{ COLAB_RELEASE_TAG: "release" }, /Colab/],
    [{ KUBERNETES_SERVICE_HOST: "10.96.0.1" }, /Kubernetes/],
  ];
  const results = await Promise.all(signals.map(([env]) => autoInChild({ ...base, ...env })));
  results.forEach((result, i) => {
    assert.match(result.opened, /\/device\?user_code=/, `${JSON.stringify(signals[i]![0])}: ${result.stderr}`);
    assert.match(result.stderr, signals[i]![1]);
    assert.match(result.stderr, /Using the device flow because .* To force the redirect, pass `flow: "loopback"`/);
  });
  // $BROWSER set (a browser that works from here) and no remote signal: the loopback redirect.
  const local = await autoInChild({ ...base, BROWSER: "/bin/true" });
  assert.match(local.opened, /\/auth\?.*redirect_uri=http%3A%2F%2F127\.0\.0\.1/, local.stderr);
  assertNoSecret(results.map((r) => r.stderr).join(""), []);
});

test("outside a notebook the reason speaks of this program, not a kernel", () => {
  assert.equal(
    remoteReason({}, "linux", (p) => p === "/.dockerenv", "this program"),
    "this program runs in a container",
  );
  assert.equal(
    remoteReason({ SSH_CONNECTION: "1 2 3 4" }, "linux", () => false),
    "the kernel runs in an SSH session ($SSH_CONNECTION)",
  );
});
