// Corporate networks (issue #15): a real HTTP proxy (Debian's tinyproxy) and an HTTPS identity
// provider (the demo's oidc-provider) under a host name that is not loopback
// (idp.tslab-oauth.test, mapped to 127.0.0.1 in /etc/hosts), with a certificate from a test
// authority. The proxy's own log says which requests went through it: the provider closes every
// connection after one answer, so each request of the library opens one tunnel.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { DEMO_CLIENT_ID, startDemoIdp } from "../demo/idp.js";
import { login, logout, session, LoginError, type LoginConfig } from "../src/index.js";
import { captureOutput } from "./support/capture.js";
import { makeCertificates, type TestCertificates } from "./support/certificates.js";
import { demoIdp, closeDemoIdp, isolateCache, type DemoIdp } from "./support/fixtures.js";
import { assertNoSecret, openHandles, visibleText } from "./support/leaks.js";
import { TEST_HOST, ensureTestHost, freePort, startTinyproxy, type Tinyproxy } from "./support/proxy.js";
import { ScriptedUserAgent } from "./support/user-agent.js";

const PROXY_VARIABLES = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR"];
const PROXY_USER = "analyst";
const PROXY_PASSWORD = "proxy-pass-7f3e-long";

let certs: TestCertificates;
let idp: DemoIdp;
let proxy: Tinyproxy;
let guarded: Tinyproxy;
let scratch: string;

before(async () => {
  await ensureTestHost();
  certs = makeCertificates({ dnsNames: [TEST_HOST] });
  idp = await startDemoIdp({ tls: { key: certs.key, cert: certs.cert }, hostname: TEST_HOST });
  // One answer per connection: every request the library makes opens its own tunnel.
  idp.server.prependListener("request", (_req, res) => res.setHeader("connection", "close"));
  // One after the other, each kept as soon as it runs: `after` stops whatever started.
  proxy = await startTinyproxy();
  guarded = await startTinyproxy({ basicAuth: { user: PROXY_USER, password: PROXY_PASSWORD } });
  scratch = mkdtempSync(join(tmpdir(), "tslab-oauth-proxy-test-"));
});
after(async () => {
  await Promise.all([idp?.close(), proxy?.close(), guarded?.close(), closeDemoIdp()]);
  rmSync(scratch, { recursive: true, force: true });
});

// Each test starts with no proxy or authority variable set; the machine's own come back at the end.
const savedEnv = new Map(PROXY_VARIABLES.map((name) => [name, process.env[name]]));
beforeEach(() => {
  isolateCache();
  for (const name of PROXY_VARIABLES) delete process.env[name];
});
after(() => {
  for (const [name, value] of savedEnv) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

function config(extra: Partial<LoginConfig> = {}): LoginConfig {
  const ua = new ScriptedUserAgent({ ca: certs.ca });
  return {
    issuer: idp.issuer,
    clientId: DEMO_CLIENT_ID,
    scopes: ["openid", "api"],
    ca: certs.ca,
    openBrowser: ua.open,
    flow: "loopback",
    timeout: 20,
    ...extra,
  };
}

const tunnelsToIdp = (p: Tinyproxy): number => p.tunnels().filter((t) => t === `${TEST_HOST}:${idp.port}`).length;

describe("through a real proxy", () => {
  test("HTTPS_PROXY: login(), session().fetch() and logout() all go through the proxy (its log has one tunnel per request)", async () => {
    process.env.HTTPS_PROXY = proxy.url;
    const start = tunnelsToIdp(proxy);
    const headers = await login(config());
    const afterLogin = tunnelsToIdp(proxy);
    assert.ok(afterLogin - start >= 2, `discovery and token requests tunnelled (${afterLogin - start})`);
    const api = await session(config());
    const res = await api.fetch(`${idp.issuer}/api/me`);
    assert.equal(res.status, 200);
    assert.equal(tunnelsToIdp(proxy), afterLogin + 1, "session().fetch tunnelled (the saved sign-in made no other request)");
    const result = await logout(config());
    assert.deepEqual(result.revoked, ["refresh_token", "access_token"]);
    assert.ok(tunnelsToIdp(proxy) >= afterLogin + 2, "revocation tunnelled");
    assert.match(headers.Authorization, /^Bearer /);
  });

  test("lower-case https_proxy works the same; NO_PROXY naming the host or its domain sends requests directly", async () => {
    process.env.https_proxy = proxy.url;
    const start = tunnelsToIdp(proxy);
    await login(config());
    assert.ok(tunnelsToIdp(proxy) > start, "https_proxy honoured");
    for (const noProxy of [TEST_HOST, ".tslab-oauth.test", `${TEST_HOST}:${idp.port}`, "*"]) {
      isolateCache();
      process.env.NO_PROXY = noProxy;
      const before = tunnelsToIdp(proxy);
      await login(config());
      assert.equal(tunnelsToIdp(proxy), before, `NO_PROXY=${noProxy}: no tunnel`);
    }
  });

  test("the `proxy` option wins over the environment: a URL, or false for none", async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    process.env.HTTPS_PROXY = dead;
    const start = tunnelsToIdp(proxy);
    await login(config({ proxy: proxy.url }));
    assert.ok(tunnelsToIdp(proxy) > start, "the option's proxy was used, not the dead one in the environment");
    isolateCache();
    const before = tunnelsToIdp(proxy);
    const headers = await login(config({ proxy: false }));
    assert.match(headers.Authorization, /^Bearer /, "signed in directly, though the environment names a dead proxy");
    assert.equal(tunnelsToIdp(proxy), before);
  });

  test("loopback destinations never go through a proxy, even with every proxy variable set", async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    for (const name of ["HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"]) process.env[name] = dead;
    const local = await demoIdp();
    const headers = await login({
      issuer: local.issuer,
      clientId: DEMO_CLIENT_ID,
      scopes: ["openid"],
      openBrowser: new ScriptedUserAgent().open,
      flow: "loopback",
      timeout: 20,
    });
    assert.match(headers.Authorization, /^Bearer /);
  });

  test("a proxy that asks for credentials: they work in the URL and appear nowhere; without them the error says so, naming the proxy and the variable", async () => {
    process.env.HTTPS_PROXY = guarded.url;
    const start = tunnelsToIdp(guarded);
    const { value: headers, stdout, stderr } = await captureOutput(() => login(config()));
    assert.match(headers.Authorization, /^Bearer /);
    assert.ok(tunnelsToIdp(guarded) > start);
    assertNoSecret(stdout + stderr, [PROXY_PASSWORD]);

    isolateCache();
    process.env.HTTPS_PROXY = `http://127.0.0.1:${guarded.port}`;
    const error = await login(config()).catch((e: unknown) => e);
    assert.ok(error instanceof LoginError);
    assert.equal(error.code, "DISCOVERY_FAILED");
    assert.match(
      error.message,
      new RegExp(`the proxy 127\\.0\\.0\\.1:${guarded.port} \\(set by \\$HTTPS_PROXY\\) asks for credentials, or refused them \\(HTTP 40[17]\\)`),
    );

    isolateCache();
    process.env.HTTPS_PROXY = `http://${PROXY_USER}:wrong-${PROXY_PASSWORD}@127.0.0.1:${guarded.port}`;
    const wrong = await login(config()).catch((e: unknown) => e);
    assert.ok(wrong instanceof LoginError);
    assert.match(wrong.message, /asks for credentials, or refused them \(HTTP 40[17]\)/);
    assertNoSecret(visibleText(wrong), [PROXY_PASSWORD, `wrong-${PROXY_PASSWORD}`]);
  });

  test("a proxy that is down: a clear error within a second, naming the proxy and the variable; nothing left open", async () => {
    const handles = await openHandles();
    const port = await freePort();
    process.env.https_proxy = `http://127.0.0.1:${port}`;
    const started = Date.now();
    const error = await login(config()).catch((e: unknown) => e);
    assert.ok(Date.now() - started < 1000, `${Date.now() - started} ms`);
    assert.ok(error instanceof LoginError);
    assert.equal(error.code, "DISCOVERY_FAILED");
    assert.match(
      error.message,
      new RegExp(
        `the proxy 127\\.0\\.0\\.1:${port} \\(set by \\$https_proxy\\) could not be reached: connection refused, ECONNREFUSED; check \\$https_proxy, or set \`proxy\``,
      ),
    );
    assert.deepEqual(await openHandles(), handles);
  });
});

describe("the machine's certificate authorities", () => {
  test("SSL_CERT_FILE naming the test authority is trusted without `ca`; without either, the TLS error names the host and both ways to fix it", async () => {
    const unknown = await login(config({ ca: undefined })).catch((e: unknown) => e);
    assert.ok(unknown instanceof LoginError);
    assert.equal(unknown.code, "DISCOVERY_FAILED");
    assert.match(unknown.message, new RegExp(`${TEST_HOST.replace(/\./g, "\\.")}.*not issued by an authority this machine trusts.*\`ca\`.*SSL_CERT_FILE`));
    assert.doesNotMatch(unknown.message, /rejectUnauthorized|NODE_TLS_REJECT_UNAUTHORIZED/, "never suggests turning verification off");

    const file = join(scratch, "company-ca.pem");
    writeFileSync(file, certs.ca);
    process.env.SSL_CERT_FILE = file;
    isolateCache();
    const headers = await login(config({ ca: undefined }));
    assert.match(headers.Authorization, /^Bearer /);
  });

  test("through the proxy with SSL_CERT_FILE: the authority applies inside the tunnel too", async () => {
    const file = join(scratch, "company-ca.pem");
    writeFileSync(file, certs.ca);
    process.env.SSL_CERT_FILE = file;
    process.env.HTTPS_PROXY = proxy.url;
    const start = tunnelsToIdp(proxy);
    await login(config({ ca: undefined }));
    assert.ok(tunnelsToIdp(proxy) > start);
  });
});
