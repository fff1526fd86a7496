// What the cell says while a sign-in waits: only what happened (issue #18). The display entry is a
// stub here (the real kernels are in test/e2e); the browser opener is the library's own.
import assert from "node:assert/strict";
import { test } from "node:test";
import { openBrowser, reportBrowser } from "../src/flows/browser.js";
import { NotebookReporter } from "../src/notebook/cell.js";

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
  outcome.failed("could not open a browser (the launcher exited with 3); open the link yourself");
  assert.doesNotMatch(later.last(), /was opened too/);
  assert.equal(later.last().match(/could not open a browser/g)?.length, 1);
  for (const markup of all) assert.ok(!(markup.includes("was opened too") && markup.includes("could not open")), "never both");
  reporter.dispose();
  later.reporter.dispose();
});

test("openBrowser: false says nothing about a browser", () => {
  const { reporter, last } = cell();
  reporter.waiting({ ...waiting, openBrowser: false });
  assert.doesNotMatch(last(), /browser tab/);
  reporter.dispose();
});
