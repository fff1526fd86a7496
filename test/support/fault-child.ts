// A kernel meeting a fault in its config folder, in its own process (test/disk-faults.test.ts).
// argv[2]: "stall-before-rename" or "event-loop"; argv[3]: the JSON LoginConfig (no functions).
//
// - stall-before-rename: every rename of a temporary file hangs (a kill arrives between writing
//   the temporary copy and renaming it); prints "written" once the copy exists, then waits for SIGKILL.
// - event-loop: signs in once as root in argv[4] (a writable folder: every module the library
//   loads on first use is then loaded), drops to the user nobody, and signs in again (the folder of
//   argv[3], which nobody may not write to) while perf_hooks measures the longest stall of the
//   event loop; prints one JSON line { ok, longestStallMs, warnings }.
import fs from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { login, type LoginConfig } from "../../src/index.js";
import { ScriptedUserAgent } from "./user-agent.js";

const [mode, configJson] = [process.argv[2], process.argv[3]!];
const config = JSON.parse(configJson) as LoginConfig;
const ua = new ScriptedUserAgent();

if (mode === "stall-before-rename") {
  const rename = fs.renameSync;
  fs.renameSync = (from: fs.PathLike, to: fs.PathLike): void => {
    if (String(from).includes(".tmp-")) {
      process.stdout.write("written\n");
      for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
    }
    rename(from, to);
  };
  await login({ ...config, openBrowser: ua.open, timeout: 20 });
} else {
  await login({ ...config, cacheDir: process.argv[4]!, openBrowser: ua.open, timeout: 20 });
  process.setgid!(65534);
  process.setuid!(65534);
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const warnings: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    warnings.push(String(chunk));
    return write(chunk, ...rest);
  }) as typeof process.stderr.write;
  const headers = await login({ ...config, forceLogin: true, openBrowser: ua.open, timeout: 20 });
  // A stall at the very end (the save) shows only once the timer fires again.
  await new Promise((resolve) => setTimeout(resolve, 30));
  delay.disable();
  process.stdout.write(
    `${JSON.stringify({ ok: headers.Authorization.startsWith("Bearer "), longestStallMs: Math.round(delay.max / 1e6), warnings: warnings.join("") })}\n`,
  );
}
