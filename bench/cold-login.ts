// One restarted kernel: import tslab-oauth in a fresh process and log in from the saved token.
// Prints {"importMs", "loginMs"}. Used by bench/cache.ts.
import { performance } from "node:perf_hooks";

const config = JSON.parse(process.argv[2]!) as Record<string, unknown>;
const t0 = performance.now();
// The published bundle (dist/), as a restarted kernel loads it.
const { login } = (await import(new URL("../../dist/index.js", import.meta.url).href)) as typeof import("../src/index.js");
const t1 = performance.now();
await login({
  ...(config as unknown as Parameters<typeof login>[0]),
  openBrowser: () => {
    throw new Error("the cold run needed a browser");
  },
});
const t2 = performance.now();
console.log(JSON.stringify({ importMs: t1 - t0, loginMs: t2 - t1 }));
