// What the cell says while a sign-in waits: only what happened (issue #18). The display entry is a
// stub here (the real kernels are in test/e2e); the browser opener is the library's own.
import assert from "node:assert/strict";
import { test } from "node:test";
import { launcherFailure, openBrowser, reportBrowser } from "../src/flows/browser.js";
import { NotebookReporter, REDIRECT_HINT_AFTER_MS } from "../src/notebook/cell.js";
import { LoginError } from "../src/errors.js";

function cell(): { reporter: NotebookReporter; last: () => string; all: string[] } {
  const all: string[] = [];
  const reporter = new NotebookReporter({ newEntry: () => ({ html: (markup) => void all.push(markup) }) }, false);
  return { reporter, all, last: () => all.at(-1) ?? "" };
}
const waiting = { issuer: "https://id.example.com", url: "http://127.0.0.1:5000/launch", deadline: Date.now() + 60_000, openBrowser: true };

test("a browser that opens: 'Opening a browser tab…', then 'A browser tab was opened too.'", async () => {
  const { reporter, last } = cell();
  reporter.waiting(waiting);
  assert.match(last(), /Opening a browser tab…/);
  await openBrowser("https://id.example.com/auth", () => {}, reportBrowser(reporter));
  assert.match(last(), /A browser tab was opened too\./);
  assert.doesNotMatch(last(), /could not open/);
  reporter.dispose();
});

test("a browser that fails to open: one honest line, never also 'was opened'", async () => {
  const { reporter, last, all } = cell();
  reporter.waiting(waiting);
  await openBrowser(
    "https://id.example.com/auth",
    () => {
      throw new Error("no display");
    },
    reportBrowser(reporter),
  );
  assert.match(last(), /could not open a browser \(no display\); open the link yourself/);
  assert.doesNotMatch(last(), /was opened too|Opening a browser/);
  // A launcher that was spawned, then exited with an error: the line is taken back.
  const later = cell();
  later.reporter.waiting(waiting);
  const outcome = reportBrowser(later.reporter);
  outcome.opened();
  assert.match(later.last(), /was opened too/);
  outcome.failed(`could not open a browser (${launcherFailure(3)}); open the link yourself`);
  assert.doesNotMatch(later.last(), /was opened too/);
  assert.equal(later.last().match(/could not open a browser/g)?.length, 1);
  for (const markup of all) assert.ok(!(markup.includes("was opened too") && markup.includes("could not open")), "never both");
  reporter.dispose();
  later.reporter.dispose();
});

test("the device flow's browser that fails to open: words a person knows, and no advice to use the flow already in use (#27)", async () => {
  const { reporter, last } = cell();
  reporter.waiting(waiting);
  await openBrowser(
    "https://id.example.com/device",
    () => {
      throw new Error("no display");
    },
    reportBrowser(reporter),
    "device",
  );
  assert.match(last(), /could not open a browser here \(no display\); open the link on any device that has one/);
  assert.doesNotMatch(last(), /flow: |flow:&quot;|beginLogin|exited with/);
  assert.equal(launcherFailure(3), "no browser or desktop was found on this machine");
  assert.doesNotMatch(launcherFailure(4), /\d/);
  reporter.dispose();
});

test("openBrowser: false says nothing about a browser", () => {
  const { reporter, last } = cell();
  reporter.waiting({ ...waiting, openBrowser: false });
  assert.doesNotMatch(last(), /browser tab/);
  reporter.dispose();
});

test("text meant as code is shown as code in the cell, never as raw backticks (#27)", () => {
  const { reporter, last } = cell();
  reporter.waiting(waiting);
  reporter.notice('Using the device flow because the kernel runs in a container. To force the redirect, pass `flow: "loopback"`.');
  assert.match(last(), /<code>flow: &#34;loopback&#34;<\/code>/);
  assert.doesNotMatch(last(), /`/);
  reporter.failed(new LoginError("INVALID_CONFIG", "`scope` is not an option of tslab-oauth: did you mean `scopes`? <script>"));
  assert.match(last(), /<code>scope<\/code> is not an option.*<code>scopes<\/code>\? &#60;script&#62;/);
  reporter.dispose();
});

test("while a loopback sign-in waits, the cell shows the link and the time left; what to register comes only after some seconds without a callback (#27)", (t) => {
  t.mock.timers.enable({ apis: ["setInterval", "Date"], now: Date.now() });
  const { reporter, last } = cell();
  reporter.waiting({ ...waiting, deadline: Date.now() + 300_000, redirectHint: "If the provider refused the redirect, register `http://127.0.0.1/callback`." });
  assert.match(last(), /Waiting for the sign-in: 5 min left/);
  assert.doesNotMatch(last(), /register/);
  t.mock.timers.tick(REDIRECT_HINT_AFTER_MS + 10_000); // the cell is drawn again every 10 s
  assert.match(last(), /register <code>http:\/\/127\.0\.0\.1\/callback<\/code>/);
  reporter.dispose();
});
