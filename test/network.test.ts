// The pure parts of proxies and certificate authorities (issue #15): which proxy a destination
// gets, curl's NO_PROXY rules, and which authorities are trusted. The real proxy is in
// test/proxy.test.ts.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import * as tls from "node:tls";
import { login, LoginError } from "../src/index.js";
import { NotebookReporter, REDIRECT_HINT_AFTER_MS } from "../src/notebook/cell.js";
import { proxySettings } from "../src/util/proxy.js";
import { bypassed, proxyFor } from "../src/protocol/proxy-route.js";
import { trustedAuthorities } from "../src/protocol/trust.js";

const url = (href: string): URL => new URL(href);

test("proxy variables as curl reads them: https_proxy for https, http_proxy for http, lower case first, loopback never", () => {
  const env = { HTTPS_PROXY: "http://upper:3128", https_proxy: "http://lower:3128", HTTP_PROXY: "plain:8080" };
  const settings = proxySettings(undefined, env);
  assert.equal(proxyFor(url("https://id.example.com/x"), settings)?.label, "lower:3128");
  assert.equal(proxyFor(url("https://id.example.com/x"), settings)?.source, "$https_proxy");
  assert.equal(proxyFor(url("http://id.example.com/x"), settings)?.url.href, "http://plain:8080/", "a scheme-less value means http");
  for (const loopback of ["https://127.0.0.1:8443/", "http://127.3.4.5/", "https://[::1]:443/", "http://localhost:9000/"]) {
    assert.equal(proxyFor(url(loopback), settings), undefined, loopback);
  }
  assert.equal(proxyFor(url("https://id.example.com/"), proxySettings(false, env)), undefined, "proxy: false wins");
  const fixed = proxySettings("http://user:p%40ss@corp:8080", env);
  assert.equal(proxyFor(url("https://id.example.com/"), fixed)?.label, "corp:8080");
  assert.equal(proxyFor(url("https://id.example.com/"), fixed)?.source, "the `proxy` option");
  assert.equal(proxyFor(url("https://id.example.com/"), proxySettings(undefined, {})), undefined);
});

test("NO_PROXY: *, names and domains with or without a dot, host:port, IP addresses and CIDR ranges", () => {
  const cases: [string, string[], boolean][] = [
    ["https://id.example.com/", ["*"], true],
    ["https://id.example.com/", ["example.com"], true],
    ["https://example.com/", ["example.com"], true],
    ["https://id.example.com/", [".example.com"], true],
    ["https://example.com/", [".example.com"], true],
    ["https://badexample.com/", ["example.com"], false],
    ["https://id.example.com/", ["other.com"], false],
    ["https://id.example.com/", ["id.example.com:443"], true],
    ["https://id.example.com:8443/", ["id.example.com:443"], false],
    ["https://10.1.2.3/", ["10.1.2.3"], true],
    ["https://10.1.2.3/", ["10.0.0.0/8"], true],
    ["https://11.1.2.3/", ["10.0.0.0/8"], false],
    ["https://[2001:db8::1]/", ["2001:db8::/32"], true],
    ["https://ID.Example.COM/", ["example.com"], true],
  ];
  for (const [target, list, expected] of cases) assert.equal(bypassed(url(target), list), expected, `${target} with NO_PROXY=${list.join(",")}`);
  const settings = proxySettings(undefined, { HTTPS_PROXY: "http://corp:3128", NO_PROXY: "internal.example, .corp.example" });
  assert.equal(proxyFor(url("https://sso.corp.example/"), settings), undefined);
  assert.equal(proxyFor(url("https://id.example.com/"), settings)?.label, "corp:3128");
});

test("a bad proxy URL is INVALID_CONFIG naming the option or the variable, never its value (it may hold a password)", async () => {
  const saved = process.env.HTTPS_PROXY;
  try {
    process.env.HTTPS_PROXY = "socks5://user:hunter2-password@proxy:1080";
    const error = await login({ issuer: "https://id.example.com", clientId: "x" }).catch((e: unknown) => e);
    assert.ok(error instanceof LoginError);
    assert.equal(error.code, "INVALID_CONFIG");
    assert.match(error.message, /\$HTTPS_PROXY is not a usable proxy URL \(socks5: proxies are not supported\)/);
    assert.doesNotMatch(error.message, /hunter2/);
    const option = await login({ issuer: "https://id.example.com", clientId: "x", proxy: "http://" }).catch((e: unknown) => e);
    assert.ok(option instanceof LoginError);
    assert.match(option.message, /^`proxy` is not a usable proxy URL/);
  } finally {
    if (saved === undefined) delete process.env.HTTPS_PROXY;
    else process.env.HTTPS_PROXY = saved;
  }
});

test("trusted authorities: nothing extra means Node's defaults; SSL_CERT_FILE, SSL_CERT_DIR, NODE_EXTRA_CA_CERTS and `ca` add to Node's bundled list", () => {
  const getSystem = (tls as unknown as { getCACertificates?: (type: string) => string[] }).getCACertificates;
  const system = typeof getSystem === "function" ? getSystem("system") : [];
  const none = trustedAuthorities(undefined, {});
  if (system.length === 0) assert.equal(none, undefined, "Node 20: no system store, nothing to add");
  else assert.ok(none!.length >= tls.rootCertificates.length + 1, "Node >= 22.15: the system store joins the bundled list");
  const dir = mkdtempSync(join(tmpdir(), "tslab-oauth-ca-"));
  try {
    const pem = (n: number): string => `-----BEGIN CERTIFICATE-----\nTUlJQ${n}==\n-----END CERTIFICATE-----`;
    writeFileSync(join(dir, "file.pem"), `${pem(1)}\n`);
    writeFileSync(join(dir, "extra.pem"), `${pem(2)}\n`);
    writeFileSync(join(dir, "a.crt"), `${pem(3)}\n${pem(4)}\n`);
    writeFileSync(join(dir, "notes.txt"), `${pem(9)}\n`);
    const list = trustedAuthorities([pem(5)], { SSL_CERT_FILE: join(dir, "file.pem"), SSL_CERT_DIR: dir, NODE_EXTRA_CA_CERTS: join(dir, "extra.pem") })!;
    for (const n of [1, 2, 3, 4, 5]) assert.ok(list.includes(pem(n)), `certificate ${n}`);
    assert.ok(!list.includes(pem(9)), "only .pem, .crt and hashed names in SSL_CERT_DIR");
    for (const root of tls.rootCertificates.slice(0, 3)) assert.ok(list.includes(root), "Node's bundled authorities stay");
    assert.deepEqual(trustedAuthorities(undefined, { SSL_CERT_FILE: join(dir, "missing.pem") }), none, "a missing file adds nothing, as with OpenSSL");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the waiting cell shows the proxy line, then (after some seconds without a callback) the redirect URI hint, escaped; the final line replaces them", (t) => {
  t.mock.timers.enable({ apis: ["setInterval", "Date"], now: Date.now() });
  const shown: string[] = [];
  const reporter = new NotebookReporter({ newEntry: () => ({ html: (markup) => void shown.push(markup) }) }, false);
  reporter.event("requests to id.example.com go through the proxy corp:3128 ($HTTPS_PROXY)");
  reporter.waiting({
    issuer: "https://id.example.com",
    url: "https://id.example.com/auth?x=<1>",
    deadline: Date.now() + 60_000,
    openBrowser: false,
    redirectHint: "register http://127.0.0.1/callback (any port) <b>",
  });
  assert.match(shown.at(-1)!, /go through the proxy corp:3128/);
  assert.doesNotMatch(shown.at(-1)!, /register/, "no advice in the first seconds");
  t.mock.timers.tick(REDIRECT_HINT_AFTER_MS + 10_000);
  const waiting = shown.at(-1)!;
  assert.match(waiting, /register http:\/\/127\.0\.0\.1\/callback \(any port\) &#60;b&#62;/);
  reporter.succeeded({ issuer: "https://id.example.com", name: "alice", expiresAt: undefined, source: "sign-in" });
  reporter.dispose();
  assert.doesNotMatch(shown.at(-1)!, /proxy|register/);
  assert.match(shown.at(-1)!, /Signed in to https:\/\/id\.example\.com as <b>alice<\/b>/);
});
