// The notebook experience, end to end: a real tslab kernel under Jupyter, a real Chromium, the real
// demo provider. Run with `npm run test:e2e`.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, beforeEach, test } from "node:test";
import type { Browser, BrowserContext } from "playwright-core";
import { startDemoApi } from "../../demo/api.js";
import { startDemoIdp } from "../../demo/idp.js";
import { ScriptedUserAgent } from "../support/user-agent.js";
import {
  API_PORT,
  DEMO_PORT,
  ISSUER,
  occupyShippedPorts,
  ROOT,
  interruptAndTimePortRelease,
  launchChromium,
  outputText,
  requireSystemParts,
  recordSecrets,
  runNotebook,
  startBrowserBridge,
  submitLoginAndConsent,
  tempDir,
  type Event,
} from "./harness.js";

let idp: Awaited<ReturnType<typeof startDemoIdp>>;
/** The API of notebooks/explore-an-api.ipynb, at its `npm start` address. */
let demoApi: Awaited<ReturnType<typeof startDemoApi>>;
let browser: Browser;
let context: BrowserContext;
let contexts: BrowserContext[] = [];
/** Every bearer token the protected API and userinfo received: what must never be in a notebook. */
let recorded: ReturnType<typeof recordSecrets>;
/** The confidential client's secret, as test/e2e/notebooks/secret.ipynb spells it out. */
const TYPED_SECRET = "e2e-secret-typed-into-the-notebook";

let releaseShippedPorts: () => Promise<void> = async () => {};
before(async () => {
  requireSystemParts();
  // As if `npm start` ran beside the tests: they use their own ports.
  releaseShippedPorts = await occupyShippedPorts();
  idp = await startDemoIdp({ port: DEMO_PORT, clientSecret: TYPED_SECRET, registration: "open", resourceIndicators: true });
  assert.equal(idp.issuer, ISSUER);
  demoApi = await startDemoApi({ idp, port: API_PORT });
  recorded = recordSecrets(idp);
  ({ browser } = await launchChromium());
});

beforeEach(async () => {
  // A fresh profile per test: no provider session carried over from the previous sign-in.
  context = await browser.newContext();
  contexts.push(context);
});

after(async () => {
  await releaseShippedPorts();
  for (const c of contexts) await c.close().catch(() => {});
  contexts = [];
  await browser?.close();
  await demoApi?.close();
  await idp?.close();
});

const secretsIn = (text: string, extra: string[] = []): string[] => recorded.secretsIn(text, extra);

function displayEvents(events: Event[], cell: number): Event[] {
  return events.filter((e) => e.cell === cell && (e.msg_type === "display_data" || e.msg_type === "update_display_data"));
}

test("quickstart.ipynb runs as-is: sign in through the system browser, call the API, nothing secret saved; a second run uses the saved sign-in; sign-out.ipynb revokes", async () => {
  const bridge = await startBrowserBridge(context);
  const cacheDir = tempDir("tslab-oauth-e2e-cache-");
  try {
    const run = await runNotebook(join(ROOT, "notebooks", "quickstart.ipynb"), { env: { BROWSER: bridge.browserEnv }, cacheDir });
    const loginCell = 2;
    // The cell ends with one short line, no sign-in material.
    const outputs = run.notebook.cells[loginCell]!.outputs!;
    assert.equal(outputs.length, 1, JSON.stringify(outputs));
    assert.equal(outputs[0]!.output_type, "display_data");
    assert.match(outputText(run, loginCell), /Signed in to http:\/\/127\.0\.0\.1:9400 as <b>alice<\/b>, token valid for 60 min\./);
    // While waiting, the same display entry showed the link; then it was overwritten.
    const shown = displayEvents(run.events, loginCell);
    assert.ok(shown.length >= 2, "a waiting entry and its replacement");
    assert.equal(shown[0]!.msg_type, "display_data");
    assert.match(String(shown[0]!.content!.data!["text/html"]), /window\.open.*>Sign in<\/a>/s);
    const id = shown[0]!.content!.transient!.display_id;
    assert.ok(id);
    for (const later of shown.slice(1)) {
      assert.equal(later.msg_type, "update_display_data");
      assert.equal(later.content!.transient!.display_id, id);
    }
    assert.deepEqual(
      run.events.filter((e) => e.cell === loginCell && e.msg_type === "stream"),
      [],
      "nothing written to a stream during the login",
    );
    // The link leads through the listener's single-use launcher: no message the cell received, at
    // any moment (a notebook saved while it waited), carried a state, nonce, PKCE challenge or code.
    assert.match(String(shown[0]!.content!.data!["text/html"]), /href="http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]{32}"/);
    assert.ok(recorded.signInParameters.length >= 3);
    assert.deepEqual(secretsIn(JSON.stringify(run.events.filter((e) => e.cell === loginCell))), [], "no sign-in parameter in any message of the cell");
    // The headers are accepted by the protected API.
    assert.match(outputText(run, 4), /sub: 'alice'/);
    // A cell whose value is the headers prints them redacted.
    assert.match(outputText(run, 6), /AuthHeaders \{ Authorization: 'Bearer \[redacted\]' \}/);
    // session() found the saved sign-in, and its fetch() was accepted.
    assert.match(outputText(run, 8), /Signed in to http:\/\/127\.0\.0\.1:9400 as <b>alice<\/b> \(saved sign-in\)/);
    assert.match(outputText(run, 9), /sub: 'alice'/);
    // The browser opened by the launcher was told it may close the tab.
    assert.equal(bridge.opened.length, 1);
    assert.match(await bridge.opened[0]!.finalText, /You can close this tab/);
    const state = new URL(bridge.opened[0]!.url).searchParams.get("state")!;
    assert.ok(recorded.bearerTokens.length > 0 && recorded.codes.length > 0);
    assert.deepEqual(secretsIn(run.savedText, [state]), [], "no token, code or state in the saved notebook");
    assert.equal((statSync(join(cacheDir, "tokens.json")).mode & 0o777).toString(8), "600");

    // A new kernel runs it again: the saved sign-in answers, with one line and no browser.
    const requests = idp.requestCount();
    const again = await runNotebook(join(ROOT, "notebooks", "quickstart.ipynb"), { env: { BROWSER: bridge.browserEnv }, cacheDir });
    assert.equal(bridge.opened.length, 1, "no browser the second time");
    const warm = displayEvents(again.events, loginCell);
    assert.equal(warm.length, 1, JSON.stringify(warm));
    assert.match(outputText(again, loginCell), /Signed in to http:\/\/127\.0\.0\.1:9400 as <b>alice<\/b> \(saved sign-in\), token valid for \d+ min\./);
    assert.match(outputText(again, 4), /sub: 'alice'/);
    assert.equal(idp.requestCount() - requests, 2, "the only requests were the two API calls");
    assert.deepEqual(secretsIn(again.savedText), []);

    // sign-out.ipynb revokes at the provider and removes the entry.
    const out = await runNotebook(join(ROOT, "notebooks", "sign-out.ipynb"), { cacheDir });
    assert.match(outputText(out, 2), /Signed out of http:\/\/127\.0\.0\.1:9400: removed the saved sign-in; revoked the refresh token and the access token/);
    assert.match(outputText(out, 2), /\[ 'refresh_token', 'access_token' \]/);
    assert.deepEqual(Object.keys(JSON.parse(readFileSync(join(cacheDir, "tokens.json"), "utf8"))), []);
    const lastToken = recorded.bearerTokens.at(-1)!;
    const check = await fetch(`${ISSUER}/api/me`, { headers: { authorization: `Bearer ${lastToken}` } });
    assert.equal(check.status, 401, "the revoked token is refused");
    assert.deepEqual(secretsIn(out.savedText), []);
  } finally {
    await bridge.close();
  }
});

test("notebooks/explore-an-api.ipynb signs in to an API by its URL alone: registered client, the API's scope, a step-up for writing, nothing secret saved", async () => {
  const bridge = await startBrowserBridge(context);
  const cacheDir = tempDir("tslab-oauth-e2e-cache-");
  try {
    const run = await runNotebook(join(ROOT, "notebooks", "explore-an-api.ipynb"), { env: { BROWSER: bridge.browserEnv }, cacheDir });
    assert.match(outputText(run, 2), /Signed in to 127\.0\.0\.1:9401 \(at 127\.0\.0\.1:9400\), token valid for 60 min\./);
    assert.match(outputText(run, 3), /200 \{ projects: \[ \{ id: 1, name: 'notebooks' \} \], sub: 'alice' \}/);
    // Writing asked for files:write: the cell said so while it signed in again, then the request went through.
    assert.match(JSON.stringify(displayEvents(run.events, 5)), /asks for <code>files:write<\/code>/);
    assert.match(outputText(run, 5), /^200$/m);
    assert.equal(bridge.opened.length, 2, "the first sign-in and the step-up");
    const clients = JSON.parse(readFileSync(join(cacheDir, "clients.json"), "utf8")) as Record<string, { clientId: string }>;
    assert.deepEqual(Object.keys(clients), [ISSUER], "one client registered at the demo provider");
    assert.equal((statSync(join(cacheDir, "clients.json")).mode & 0o777).toString(8), "600");
    assert.deepEqual(secretsIn(run.savedText), [], "no token (no JWT), code or state in the saved notebook");
  } finally {
    await bridge.close();
  }
});

test("notebooks/dpop.ipynb: a DPoP session in tslab: fetch and one request's headers accepted, the token alone refused, nothing secret saved, logout forgets the key", async () => {
  const bridge = await startBrowserBridge(context);
  const cacheDir = tempDir("tslab-oauth-e2e-dpop-");
  try {
    const run = await runNotebook(join(ROOT, "notebooks", "dpop.ipynb"), { env: { BROWSER: bridge.browserEnv }, cacheDir });
    assert.match(outputText(run, 2), /Signed in to http:\/\/127\.0\.0\.1:9400 as <b>alice<\/b>/);
    // The API saw a token bound to a key (its thumbprint), through session().fetch.
    assert.match(outputText(run, 4), /sub: 'alice'/);
    assert.match(outputText(run, 4), /jkt: '[A-Za-z0-9_-]{43}'/);
    assert.match(outputText(run, 6), /DpopHeaders \{ Authorization: 'DPoP \[redacted\]', DPoP: '\[redacted\]' \}/);
    assert.match(outputText(run, 7), /^200$/m);
    assert.match(outputText(run, 9), /^401$/m, "the token without its proof is refused");
    assert.ok(idp.apiRefusals.includes("a DPoP-bound token sent as a Bearer token"));
    assert.match(outputText(run, 11), /Signed out of http:\/\/127\.0\.0\.1:9400: removed the saved sign-in; revoked the refresh token and the access token/);
    assert.deepEqual(Object.keys(JSON.parse(readFileSync(join(cacheDir, "tokens.json"), "utf8"))), [], "the entry and its key are gone");
    assert.deepEqual(secretsIn(run.savedText), [], "no token, code, sign-in parameter or proof in the saved notebook");
  } finally {
    await bridge.close();
  }
});

test("the Sign in link opens the page with window.open, and that tab closes itself", async (t) => {
  const page = await context.newPage();
  let popupClosed: Promise<number> | undefined;
  let clicked = false;
  const run = await runNotebook(join(ROOT, "test", "e2e", "notebooks", "link.ipynb"), {
    onEvent: (event) => {
      const html = event.content?.data?.["text/html"];
      if (clicked || event.msg_type !== "display_data" || typeof html !== "string" || !html.includes(">Sign in</a>")) return;
      clicked = true;
      popupClosed = (async () => {
        // The cell's HTML as Jupyter renders it, then a user's click on the link.
        await page.setContent(html);
        const [popup] = await Promise.all([context.waitForEvent("page"), page.click("text=Sign in")]);
        const closed = popup.waitForEvent("close", { timeout: 20_000 });
        await submitLoginAndConsent(popup, "bob");
        const t0 = Date.now();
        await closed;
        return Date.now() - t0;
      })();
    },
  });
  assert.ok(clicked, "the cell showed a Sign in link");
  const closedAfter = await popupClosed!;
  t.diagnostic(`the sign-in tab closed itself ${closedAfter} ms after the consent was submitted`);
  assert.match(outputText(run, 1), /Signed in to http:\/\/127\.0\.0\.1:9400 as <b>bob<\/b>/);
  assert.match(outputText(run, 2), /200/);
  assert.deepEqual(secretsIn(run.savedText), []);
  await page.close();
});

test("interrupting a login cell frees the port within 2 s, and the next login() in that kernel works", async (t) => {
  const bridge = await startBrowserBridge(context);
  let freedAfterMs: number | undefined;
  let checks: Promise<void> | undefined;

  const run = await runNotebook(join(ROOT, "test", "e2e", "notebooks", "interrupt.ipynb"), {
    env: { BROWSER: bridge.browserEnv },
    onEvent: (event, send) => {
      const html = event.content?.data?.["text/html"];
      if (checks || event.cell !== 1 || event.msg_type !== "display_data" || typeof html !== "string") return;
      const href = /href="([^"]+)"/.exec(html)?.[1]?.replace(/&#38;/g, "&");
      if (!href) return;
      const port = Number(new URL(href).port); // the launcher on the listener
      checks = (async () => {
        freedAfterMs = await interruptAndTimePortRelease(port, send);
      })();
    },
  });
  await checks;
  assert.ok(freedAfterMs !== undefined && freedAfterMs <= 2000);
  t.diagnostic(`port freed ${freedAfterMs} ms after the interrupt`);
  // The interrupted cell says the login was aborted; the next cell signed in (through the browser).
  assert.match(outputText(run, 1), /Sign-in failed<\/b> <code>ABORTED<\/code><br>The cell was interrupted/);
  assert.ok(!run.savedText.includes(">Sign in</a>"), "no sign-in link left in the saved notebook");
  assert.equal(bridge.opened.length, 1, `the second login opened the browser; events of cell 2: ${JSON.stringify(run.events.filter((e) => e.cell === 2))}`);
  assert.match(await bridge.opened[0]!.finalText, /You can close this tab/);
  // The second cell ends with `await login(...)`: its value prints redacted.
  assert.match(outputText(run, 2), /AuthHeaders \{ Authorization: 'Bearer \[redacted\]' \}/);
  assert.match(outputText(run, 2), /Signed in to http:\/\/127\.0\.0\.1:9400 as <b>alice<\/b>/);
  const state = new URL(bridge.opened[0]!.url).searchParams.get("state")!;
  assert.deepEqual(secretsIn(run.savedText, [state]), [], "no token, code or state saved, after a failed and a successful login");
  assert.deepEqual(secretsIn(JSON.stringify(run.events)), [], "no sign-in parameter in any message, the interrupted sign-in's included");
  await bridge.close();
});

test("device flow in a kernel: the cell shows the code in large type, the user approves elsewhere, the entry is overwritten with one line", async () => {
  const deviceIdp = await startDemoIdp({ port: 9402, deviceFlow: true, deviceInterval: 1 });
  const tokens: string[] = [];
  deviceIdp.server.prependListener("request", (req) => {
    const auth = req.headers.authorization;
    if (auth?.startsWith("Bearer ")) tokens.push(auth.slice(7));
  });
  let userCode = "";
  try {
    const run = await runNotebook(join(ROOT, "test", "e2e", "notebooks", "device.ipynb"), {
      onEvent: (event) => {
        const html = event.content?.data?.["text/html"];
        if (userCode || event.msg_type !== "display_data" || typeof html !== "string") return;
        const link = /href="([^"]*\/device\?user_code=[^"]*)"/.exec(html);
        if (!link) return;
        userCode = new URL(link[1]!.replace(/&amp;/g, "&")).searchParams.get("user_code")!;
        // Someone on a phone opens the link from the cell and approves.
        void new ScriptedUserAgent({ login: "jo" }).visit(link[1]!.replace(/&amp;/g, "&"));
      },
    });
    assert.match(userCode, /^[A-Z]{4}-[A-Z]{4}$/);
    const shown = displayEvents(run.events, 1);
    assert.match(String(shown[0]!.content!.data!["text/html"]), new RegExp(`font:700 200%[^>]*>${userCode}<`));
    assert.ok(
      shown.slice(1).every((e) => e.msg_type === "update_display_data" && e.content!.transient!.display_id === shown[0]!.content!.transient!.display_id),
    );
    const outputs = run.notebook.cells[1]!.outputs!;
    assert.equal(outputs.length, 1, JSON.stringify(outputs));
    assert.match(outputText(run, 1), /Signed in to http:\/\/127\.0\.0\.1:9402 as <b>jo<\/b>, token valid for 60 min\./);
    assert.match(outputText(run, 2), /200/);
    assert.ok(!run.savedText.includes(userCode), "the code is gone from the saved notebook");
    assert.deepEqual(secretsIn(run.savedText, tokens), []);
  } finally {
    await deviceIdp.close();
  }
});

test("two cells in a kernel: beginLogin() shows the link and returns; complete() in the next cell signs in and overwrites the first cell's link", async () => {
  const pasteFile = join(tempDir("tslab-oauth-paste-"), "address.txt");
  let started = false;
  let state = "";
  const run = await runNotebook(join(ROOT, "test", "e2e", "notebooks", "two-cells.ipynb"), {
    env: { PASTE_FILE: pasteFile },
    onEvent: (event) => {
      const html = event.content?.data?.["text/html"];
      if (started || event.msg_type !== "display_data" || typeof html !== "string") return;
      const link = /href="([^"]*\/auth\?[^"]*)"/.exec(html);
      if (!link) return;
      started = true;
      const url = link[1]!.replace(/&#38;|&amp;/g, "&");
      state = new URL(url).searchParams.get("state")!;
      // A browser on another machine: signs in, ends on an address it cannot load; the user copies it.
      const ua = new ScriptedUserAgent({
        login: "lee",
        onCallback: (callback) => {
          writeFileSync(pasteFile, callback.href);
          return null;
        },
      });
      void ua.visit(url);
    },
  });
  assert.ok(started, "the first cell showed a link");
  assert.match(outputText(run, 2), /Signed in to http:\/\/127\.0\.0\.1:9400 as <b>lee<\/b>/);
  assert.match(outputText(run, 3), /200/);
  // The first cell's entry was overwritten from the second cell: no link, no state left in it.
  assert.match(outputText(run, 1), /Signed in to http:\/\/127\.0\.0\.1:9400 as <b>lee<\/b>/);
  assert.ok(!run.savedText.includes(state), "the sign-in's state is gone from the saved notebook");
  assert.deepEqual(secretsIn(run.savedText), []);
});

test("a client secret typed into a notebook: a warning in the cell, once per kernel, saying how to move it out", async () => {
  const bridge = await startBrowserBridge(context);
  try {
    const run = await runNotebook(join(ROOT, "test", "e2e", "notebooks", "secret.ipynb"), { env: { BROWSER: bridge.browserEnv } });
    const first = outputText(run, 1);
    assert.match(first, /Signed in to http:\/\/127\.0\.0\.1:9400/);
    assert.match(first, /The client secret is written in this notebook/);
    assert.ok(first.includes("npx tslab-oauth profile my-app --issuer http://127.0.0.1:9400 --client-id tslab-demo-confidential --client-secret -"), first);
    const second = outputText(run, 2);
    assert.match(second, /\(saved sign-in\)/);
    assert.doesNotMatch(second, /client secret/, "said once per kernel");
    // The warning never repeats the secret (the source cell has it, as the user wrote it).
    const outputs = run.notebook.cells.flatMap((cell) => cell.outputs ?? []);
    assert.ok(!JSON.stringify(outputs).includes(TYPED_SECRET));
    assert.deepEqual(secretsIn(JSON.stringify(outputs)), []);
  } finally {
    await bridge.close();
  }
});

test("notebooks/shared.ipynb names only a profile: two users (settings file / environment, two config homes) each sign in as themselves; neither saved copy holds the other's name or tokens", async () => {
  const users = [
    { name: "carol", home: tempDir("tslab-oauth-home-carol-") },
    { name: "dmitri", home: tempDir("tslab-oauth-home-dmitri-") },
  ];
  // carol set the profile up with the command, in her settings file; dmitri in his environment.
  const cli = spawnSync(process.execPath, [join(ROOT, "dist", "cli", "bin.js"), "profile", "demo", "--issuer", ISSUER, "--client-id", "tslab-demo"], {
    env: { ...process.env, XDG_CONFIG_HOME: users[0]!.home, TSLAB_OAUTH_CACHE_DIR: "" },
    encoding: "utf8",
  });
  assert.equal(cli.status, 0, cli.stderr);
  const profileEnv: Record<string, string>[] = [{}, { TSLAB_OAUTH_DEMO_ISSUER: ISSUER, TSLAB_OAUTH_DEMO_CLIENT_ID: "tslab-demo" }];
  const saved: string[] = [];
  const tokensOf: string[][] = [];
  for (const [i, user] of users.entries()) {
    const userContext = await browser.newContext();
    contexts.push(userContext);
    const bridge = await startBrowserBridge(userContext, user.name);
    const before = recorded.bearerTokens.length;
    try {
      const run = await runNotebook(join(ROOT, "notebooks", "shared.ipynb"), {
        env: { BROWSER: bridge.browserEnv, XDG_CONFIG_HOME: user.home, TSLAB_OAUTH_CACHE_DIR: "", ...profileEnv[i] },
      });
      assert.match(outputText(run, 2), new RegExp(`Signed in to http://127\\.0\\.0\\.1:9400 as <b>${user.name}</b>`));
      assert.match(outputText(run, 3), new RegExp(`Hello, ${user.name}`));
      saved.push(run.savedText);
      tokensOf.push(recorded.bearerTokens.slice(before));
      // Each user's tokens are in their own config home, owner-only.
      const file = join(user.home, "tslab-oauth", "tokens.json");
      assert.equal(statSync(file).mode & 0o777, 0o600);
    } finally {
      await bridge.close();
    }
  }
  for (const [i, user] of users.entries()) {
    const other = users[1 - i]!;
    assert.ok(!saved[i]!.includes(other.name), `${user.name}'s copy does not mention ${other.name}`);
    assert.deepEqual(secretsIn(saved[i]!), [], `${user.name}'s copy holds no token or code`);
    assert.ok(tokensOf[i]!.length > 0);
    assert.ok(!tokensOf[i]!.some((token) => saved[1 - i]!.includes(token)));
  }
  assert.ok(!readFileSync(join(users[1]!.home, "tslab-oauth", "tokens.json"), "utf8").includes(tokensOf[0]![0]!), "separate caches");

  // A third person who has not set the profile up: the cell says what to set, once, and how.
  const newcomer = tempDir("tslab-oauth-home-newcomer-");
  const run = await runNotebook(join(ROOT, "notebooks", "shared.ipynb"), { env: { XDG_CONFIG_HOME: newcomer, TSLAB_OAUTH_CACHE_DIR: "" } });
  const cell = outputText(run, 2);
  assert.match(cell, /Sign-in failed.*PROFILE_NOT_FOUND/s);
  assert.match(cell, /npx tslab-oauth profile demo --issuer/);
  assert.match(cell, /TSLAB_OAUTH_DEMO_ISSUER, TSLAB_OAUTH_DEMO_CLIENT_ID/);
  assert.match(cell, /Then run this cell again/, "in a notebook, it speaks of the cell");
});

test("a notebook run with TSLAB_OAUTH_INTERACTIVE=0 and nothing saved: the login cell ends at once with INTERACTION_REQUIRED shown, and nothing is sent or shown to sign in", async () => {
  const requests = idp.requestCount();
  const started = Date.now();
  const run = await runNotebook(join(ROOT, "test", "e2e", "notebooks", "unattended.ipynb"), { env: { TSLAB_OAUTH_INTERACTIVE: "0" } });
  const elapsed = Date.now() - started;
  assert.match(outputText(run, 1), /Sign-in failed<\/b> <code>INTERACTION_REQUIRED<\/code>/);
  assert.ok(!run.savedText.includes(">Sign in</a>"), "no sign-in link was ever saved");
  assert.deepEqual(
    displayEvents(run.events, 1).filter((e) => String(e.content?.data?.["text/html"]).includes("Sign in</a>")),
    [],
    "no link was ever shown",
  );
  assert.equal(idp.requestCount(), requests, "no request to the provider");
  assert.ok(elapsed < 30_000, `the whole run took ${elapsed} ms (kernel start included); the cell did not wait for a sign-in`);
});
