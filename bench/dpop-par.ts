// `npm run bench`: what DPoP (RFC 9449) and PAR (RFC 9126) cost, side by side in one run, against a
// real local oidc-provider (in this process, on loopback).
//
//   1. one DPoP proof (ES256 over WebCrypto), and session().headers("GET", url) of a DPoP session
//      against headers() of a Bearer session, both with a valid token (no request);
//   2. session().fetch: a DPoP session against a Bearer session, interleaved A B A B, to an endpoint
//      that only answers 204 (the client's cost alone) and to the demo API (/api/me), which looks
//      the token up and, for DPoP, verifies the proof (what a user of the demo sees); the overhead
//      is the median of the pairwise differences;
//   3. a full interactive login (scripted browser, no cache) with PAR against `par: false`,
//      interleaved: the push is one more request before the browser opens, and it replaces the
//      preflight GET.
import { createServer } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { DEMO_CLIENT_ID, startDemoIdp } from "../demo/idp.js";
import { login, session, type LoginConfig } from "../src/index.js";
import { createDpopKey } from "../src/protocol/dpop.js";
import { ScriptedUserAgent } from "../test/support/user-agent.js";

const PROOFS = Number(process.env.BENCH_PROOFS ?? 5000);
const FETCH_PAIRS = Number(process.env.BENCH_FETCH_PAIRS ?? 1000);
const LOGIN_PAIRS = Number(process.env.BENCH_PAR_PAIRS ?? 40);

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
const ms = (value: number): string => (Math.abs(value) < 1 ? `${(value * 1000).toFixed(0)} µs` : `${value.toFixed(2)} ms`);
async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}
/** A and B interleaved: their medians, and the median of the pairwise differences B - A. */
async function sideBySide(
  pairs: number,
  warmup: number,
  a: () => Promise<unknown>,
  b: () => Promise<unknown>,
): Promise<{ a: number; b: number; overhead: number }> {
  const as: number[] = [];
  const bs: number[] = [];
  for (let i = 0; i < pairs + warmup; i++) {
    // B first on odd rounds, so that neither side always runs second.
    let ta: number;
    let tb: number;
    if (i % 2 === 0) {
      ta = await time(a);
      tb = await time(b);
    } else {
      tb = await time(b);
      ta = await time(a);
    }
    if (i >= warmup) {
      as.push(ta);
      bs.push(tb);
    }
  }
  return { a: median(as), b: median(bs), overhead: median(bs.map((t, i) => t - as[i]!)) };
}

// The terminal's "Sign in at:" line of each scripted sign-in is not part of the report.
const stderrWrite = process.stderr.write.bind(process.stderr);
process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) =>
  String(chunk).startsWith("Sign in at:") ? true : stderrWrite(chunk, ...rest)) as typeof process.stderr.write;

const cacheDir = mkdtempSync(join(tmpdir(), "tslab-oauth-bench-dpop-"));
const idp = await startDemoIdp({ par: true });
const bare = createServer((_req, res) => res.writeHead(204).end());
await new Promise<void>((resolve) => bare.listen(0, "127.0.0.1", resolve));
const bareUrl = `http://127.0.0.1:${(bare.address() as { port: number }).port}/items`;
const apiUrl = `${idp.issuer}/api/me`;
const base: LoginConfig = { issuer: idp.issuer, clientId: DEMO_CLIENT_ID, scopes: ["openid"], cacheDir, flow: "loopback" };
try {
  const bearer = await session({ ...base, openBrowser: new ScriptedUserAgent().open });
  const dpop = await session({ ...base, dpop: true, openBrowser: new ScriptedUserAgent().open });

  // 1. A proof, and one request's headers.
  const key = await createDpopKey({ client_id: DEMO_CLIENT_ID });
  const target = new URL(apiUrl);
  const proofs: number[] = [];
  for (let i = 0; i < PROOFS + 200; i++) {
    const t = await time(() => key.proof("GET", target, "an-access-token-of-the-usual-length-0123456789"));
    if (i >= 200) proofs.push(t);
  }
  const headers = await sideBySide(
    PROOFS,
    200,
    () => bearer.headers(),
    () => dpop.headers("GET", apiUrl),
  );

  // 2. session().fetch, Bearer against DPoP.
  const drain = async (response: Response): Promise<void> => {
    if (response.status >= 300) throw new Error(`unexpected ${response.status}`);
    await response.arrayBuffer();
  };
  const toBare = await sideBySide(
    FETCH_PAIRS,
    100,
    async () => drain(await bearer.fetch(bareUrl)),
    async () => drain(await dpop.fetch(bareUrl)),
  );
  const toApi = await sideBySide(
    FETCH_PAIRS,
    100,
    async () => drain(await bearer.fetch(apiUrl)),
    async () => drain(await dpop.fetch(apiUrl)),
  );

  // 3. A full login with PAR against one without (each on a fresh cache: a real sign-in every time).
  let round = 0;
  const fullLogin = (par: boolean) => async (): Promise<void> => {
    await login({ ...base, cacheDir: join(cacheDir, `login-${round++}`), par, openBrowser: new ScriptedUserAgent().open });
  };
  const logins = await sideBySide(LOGIN_PAIRS, 4, fullLogin(false), fullLogin(true));

  const row = (name: string, a: string, b: string, ratio: string, overhead: string): string => `| ${name} | ${a} | ${b} | ${ratio} | ${overhead} |`;
  console.log(`DPoP and PAR (bench/dpop-par.ts), Node ${process.versions.node}, ${cpus().length} × ${cpus()[0]?.model ?? "?"}`);
  console.log(`One ES256 proof (key.proof): median ${ms(median(proofs))} over ${PROOFS}`);
  console.log("");
  console.log("| | Bearer | DPoP | ratio | overhead (median of pairwise differences) |");
  console.log("|---|---|---|---|---|");
  console.log(
    row(`session().headers(), valid token (${PROOFS} pairs)`, ms(headers.a), ms(headers.b), `${(headers.b / headers.a).toFixed(1)}×`, ms(headers.overhead)),
  );
  console.log(
    row(`session().fetch → 204 endpoint (${FETCH_PAIRS} pairs)`, ms(toBare.a), ms(toBare.b), `${(toBare.b / toBare.a).toFixed(2)}×`, ms(toBare.overhead)),
  );
  console.log(
    row(
      `session().fetch → demo /api/me, proof verified (${FETCH_PAIRS} pairs)`,
      ms(toApi.a),
      ms(toApi.b),
      `${(toApi.b / toApi.a).toFixed(2)}×`,
      ms(toApi.overhead),
    ),
  );
  console.log("");
  console.log("| | par: false | PAR | ratio | overhead |");
  console.log("|---|---|---|---|---|");
  console.log(
    row(`full login, scripted browser (${LOGIN_PAIRS} pairs)`, ms(logins.a), ms(logins.b), `${(logins.b / logins.a).toFixed(2)}×`, ms(logins.overhead)),
  );
} finally {
  await idp.close();
  bare.close();
  rmSync(cacheDir, { recursive: true, force: true });
}
