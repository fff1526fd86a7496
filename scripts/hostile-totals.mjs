// `npm run test:hostile`: runs the hostile-input suite (test/hostile-*.test.ts, built in .build/)
// and prints the sum of the `hostile-totals` lines its files print. Exits non-zero when a test
// failed or any count but `cases` is not zero.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";

const files = readdirSync(".build/test")
  .filter((f) => /^hostile-.*\.test\.js$/.test(f))
  .map((f) => `.build/test/${f}`);
const run = spawnSync(process.execPath, ["--test", "--test-concurrency=1", ...files], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
const totals = {};
for (const [, json] of run.stdout.matchAll(/hostile-totals (\{.*\})/g)) {
  for (const [key, value] of Object.entries(JSON.parse(json))) if (typeof value === "number") totals[key] = (totals[key] ?? 0) + value;
}
const summary = /# (tests|pass|fail) \d+/g;
console.log(run.stdout.match(summary)?.join(", ") ?? "no test summary");
console.log(JSON.stringify(totals));
const bad = Object.entries(totals).some(([key, value]) => key !== "cases" && value !== 0);
process.exit(run.status !== 0 || bad || !totals.cases ? 1 : 0);
