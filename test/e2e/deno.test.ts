// The same sign-in in Deno's Jupyter kernel (Deno from npm, its kernel spec in the project's own
// Jupyter path) and in tslab's JavaScript kernel (jslab): a real kernel under nbclient, a real
// Chromium, the demo provider. A missing Deno is a failure, never a skip.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, beforeEach, test } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";

import { startDemoApi } from "../../demo/api.js";
import { startDemoIdp } from "../../demo/idp.js";
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
let demoApi: Awaited<ReturnType<typeof startDemoApi>>;
let browser: Browser;
let context: BrowserContext;
const contexts: BrowserContext[] = [];
let recorded: ReturnType<typeof recordSecrets>;

let releaseShippedPorts: () => Promise<void> = async () => {};
before(async () => {
  requireSystemParts();
  // As if `npm start` ran beside the tests: they use their own ports.
  releaseShippedPorts = await occupyShippedPorts();
  if (!existsSync(join(ROOT, "node_modules", ".bin", "deno"))) throw new Error("Deno is missing: run `npm install` (the `deno` devDependency brings it).");
  idp = await startDemoIdp({ port: DEMO_PORT, registration: "open", resourceIndicators: true });
  assert.equal(idp.issuer, ISSUER);
  demoApi = await startDemoApi({ idp, port: API_PORT });
  recorded = recordSecrets(idp);
  ({ browser } = await launchChromium());
});
beforeEach(async () => {
  context = await browser.newContext();
  contexts.push(context);
});
after(async () => {
  await releaseShippedPorts();
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await demoApi?.close();
  await idp?.close();
});

const secretsIn = (text: string, extra: string[] = []): string[] => recorded.secretsIn(text, extra);
const displays = (events: Event[], cell: number): Event[] =>
  events.filter((e) => e.cell === cell && (e.msg_type === "display_data" || e.msg_type === "update_display_data"));
const html = (event: Event | undefined): string => String(event?.content?.data?.["text/html"] ?? "");
/** Everything the kernel sent after the sign-in ended (the one-line result included). */
const afterSignIn = (events: Event[], cell: number): string => {
  const shown = displays(events, cell);
  const end = events.indexOf(shown.at(-1)!);
  return JSON.stringify(events.slice(end));
};

test("Deno: deno-quickstart.ipynb signs in through the system browser; the waiting entry with the link is replaced in place by one line; nothing secret saved or sent after the sign-in; a second run uses the saved sign-in", async () => {
  const bridge = await startBrowserBridge(context);
  const cacheDir = tempDir("tslab-oauth-deno-cache-");
  try {
    const run = await runNotebook(join(ROOT, "notebooks", "deno-quickstart.ipynb"), { kernel: "deno", env: { BROWSER: bridge.browserEnv }, cacheDir });
    const loginCell = 2;
    const shown = displays(run.events, loginCell);
    assert.ok(shown.length >= 2, `a waiting entry and its replacement: ${JSON.stringify(run.events.filter((e) => e.cell === loginCell))}`);
    assert.equal(shown[0]!.msg_type, "display_data");
    assert.match(html(shown[0]), /window\.open.*>Sign in<\/a>/s);
    const id = shown[0]!.content!.transient!.display_id;
    assert.ok(id);
    for (const later of shown.slice(1)) {
      assert.equal(later.msg_type, "update_display_data");
      assert.equal(later.content!.transient!.display_id, id);
    }
    assert.match(html(shown.at(-1)), /Signed in to http:\/\/127\.0\.0\.1:9400 as <b>alice<\/b>, token valid for 60 min\./);
    // The saved cell holds exactly the one line (Jupyter replaces the entry in the saved output too).
    const outputs = run.notebook.cells[loginCell]!.outputs!;
    assert.equal(outputs.length, 1, JSON.stringify(outputs));
    assert.match(outputText(run, loginCell), /Signed in to http:\/\/127\.0\.0\.1:9400 as <b>alice<\/b>/);
    assert.doesNotMatch(outputText(run, loginCell), /Sign in<\/a>/);
    assert.match(outputText(run, 3), /sub: "alice"/);
    assert.match(outputText(run, 5), /Signed in to http:\/\/127\.0\.0\.1:9400 as <b>alice<\/b> \(saved sign-in\)/);
    assert.match(outputText(run, 5), /sub: "alice"/);
    assert.equal(bridge.opened.length, 1);
    assert.match(await bridge.opened[0]!.finalText, /You can close this tab/);
    const state = new URL(bridge.opened[0]!.url).searchParams.get("state")!;
    assert.deepEqual(secretsIn(run.savedText, [state]), [], "no token, code or state in the saved notebook");
    assert.deepEqual(secretsIn(afterSignIn(run.events, loginCell), [state]), [], "no secret in any iopub message after the sign-in");
    assert.deepEqual(
      secretsIn(JSON.stringify(run.events.filter((e) => e.cell === loginCell))),
      [],
      "no sign-in parameter in any message of the cell, the waiting link included",
    );

    const requests = idp.requestCount();
    const again = await runNotebook(join(ROOT, "notebooks", "deno-quickstart.ipynb"), { kernel: "deno", env: { BROWSER: bridge.browserEnv }, cacheDir });
    assert.equal(bridge.opened.length, 1, "no browser the second time");
    assert.match(outputText(again, loginCell), /\(saved sign-in\)/);
    assert.equal(idp.requestCount() - requests, 2, "the only requests were the two API calls");
    assert.deepEqual(secretsIn(again.savedText), []);
  } finally {
    await bridge.close();
  }
});

test("Deno: interrupting a waiting sign-in stops only the sign-in: the port is freed, the entry says ABORTED, and the kernel keeps its variables", async () => {
  let checks: Promise<void> | undefined;
  let freedAfterMs: number | undefined;
  const run = await runNotebook(join(ROOT, "test", "e2e", "notebooks", "deno-interrupt.ipynb"), {
    kernel: "deno",
    onEvent: (event, send) => {
      const href = /href="([^"]+)"/.exec(html(event))?.[1]?.replace(/&#38;/g, "&");
      if (checks || event.cell !== 1 || event.msg_type !== "display_data" || !href) return;
      const port = Number(new URL(href).port); // the launcher on the listener
      checks = (async () => {
        freedAfterMs = await interruptAndTimePortRelease(port, send);
      })();
    },
  });
  await checks;
  assert.ok(freedAfterMs !== undefined);
  assert.match(outputText(run, 1), /Sign-in failed<\/b> <code>ABORTED<\/code><br>The cell was interrupted/);
  assert.match(outputText(run, 2), /still here 42/, "the kernel survived, with the variable of the first cell");
  assert.ok(!run.savedText.includes(">Sign in</a>"));
});

test('Deno: flow "manual" asks for the address in the same cell (stdin answered by the client), with the same checks as complete()', async () => {
  const page: Page = await context.newPage();
  let ended: Promise<string> | undefined;
  const run = await runNotebook(join(ROOT, "test", "e2e", "notebooks", "deno-paste.ipynb"), {
    kernel: "deno",
    stdin: true,
    onEvent: (event, send) => {
      const href = /href="([^"]+)"/.exec(html(event))?.[1]?.replace(/&#38;/g, "&");
      if (ended || event.cell !== 1 || event.msg_type !== "display_data" || !href) return;
      assert.match(html(event), /paste it into the input box below/);
      ended = (async () => {
        // The browser signs in and ends on the loopback address, where nothing listens.
        let callback = "";
        page.on("request", (request) => {
          if (request.url().includes("/callback?")) callback = request.url();
        });
        await page.goto(href);
        await submitLoginAndConsent(page, "carol");
        for (let i = 0; !callback && i < 100; i++) await new Promise((r) => setTimeout(r, 100));
        assert.ok(callback, "the browser was sent back to the loopback address");
        send("answer http://127.0.0.1:1/somewhere-else?code=x&state=y"); // a wrong paste is asked again
        send(`answer ${callback}`);
        return callback;
      })();
    },
  });
  const callback = await ended!;
  const prompts = run.events.filter((e) => e.event === "input_request");
  assert.equal(prompts.length, 2, "asked once, then again after the wrong address");
  for (const prompt of prompts) {
    assert.equal(
      (prompt as { content?: { password?: boolean } }).content?.password,
      true,
      "asked as a password: the frontend neither shows nor saves the pasted address",
    );
  }
  assert.match(outputText(run, 1), /Signed in to http:\/\/127\.0\.0\.1:9400 as <b>carol<\/b>/);
  assert.match(outputText(run, 2), /200 \{\s+sub: "carol"/);
  const code = new URL(callback).searchParams.get("code")!;
  assert.deepEqual(secretsIn(run.savedText, [code]), []);
  await page.close();
});

test("Deno: notebooks/dpop.ipynb runs in Deno's kernel too: DPoP-bound tokens, proofs from node:crypto, headers printed redacted, the token alone refused", async () => {
  const bridge = await startBrowserBridge(context);
  const cacheDir = tempDir("tslab-oauth-deno-dpop-");
  try {
    const run = await runNotebook(join(ROOT, "notebooks", "dpop.ipynb"), { kernel: "deno", env: { BROWSER: bridge.browserEnv }, cacheDir });
    assert.match(outputText(run, 2), /Signed in to http:\/\/127\.0\.0\.1:9400 as <b>alice<\/b>/);
    assert.match(outputText(run, 4), /jkt: "[A-Za-z0-9_-]{43}"|jkt: '[A-Za-z0-9_-]{43}'/);
    assert.match(outputText(run, 6), /DpopHeaders \{ Authorization: 'DPoP \[redacted\]', DPoP: '\[redacted\]' \}/);
    assert.match(outputText(run, 7), /200/);
    assert.match(outputText(run, 9), /401/);
    assert.match(outputText(run, 11), /Signed out of http:\/\/127\.0\.0\.1:9400/);
    assert.deepEqual(secretsIn(run.savedText), []);
  } finally {
    await bridge.close();
  }
});

test('jslab (tslab\'s JavaScript kernel): require("tslab-oauth") signs in with the same display and nothing secret saved', async () => {
  const bridge = await startBrowserBridge(context, "dmitri");
  try {
    const run = await runNotebook(join(ROOT, "test", "e2e", "notebooks", "jslab.ipynb"), { kernel: "jslab", env: { BROWSER: bridge.browserEnv } });
    const shown = displays(run.events, 1);
    assert.ok(shown.length >= 2);
    assert.match(html(shown[0]), />Sign in<\/a>/);
    assert.match(outputText(run, 1), /Signed in to http:\/\/127\.0\.0\.1:9400 as <b>dmitri<\/b>/);
    assert.match(outputText(run, 2), /200/);
    const state = new URL(bridge.opened[0]!.url).searchParams.get("state")!;
    assert.deepEqual(secretsIn(run.savedText, [state]), []);
  } finally {
    await bridge.close();
  }
});

test("Deno: notebooks/explore-an-api.ipynb signs in to an API by its URL alone in Deno's kernel too: registered client, a step-up, nothing secret saved", async () => {
  const bridge = await startBrowserBridge(context);
  const cacheDir = tempDir("tslab-oauth-e2e-deno-cache-");
  try {
    const run = await runNotebook(join(ROOT, "notebooks", "explore-an-api.ipynb"), { kernel: "deno", env: { BROWSER: bridge.browserEnv }, cacheDir });
    assert.match(outputText(run, 2), /Signed in to 127\.0\.0\.1:9401 \(at 127\.0\.0\.1:9400\)/);
    assert.match(outputText(run, 3), /200 \{ projects: \[ \{ id: 1, name: "notebooks" \} \], sub: "alice" \}/);
    assert.match(outputText(run, 5), /^200$/m);
    assert.equal(bridge.opened.length, 2, "the first sign-in and the step-up");
    assert.deepEqual(Object.keys(JSON.parse(readFileSync(join(cacheDir, "clients.json"), "utf8")) as object), [ISSUER]);
    assert.deepEqual(recorded.secretsIn(run.savedText), []);
  } finally {
    await bridge.close();
  }
});
