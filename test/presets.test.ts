// Provider presets: their shape, and the URLs they make login() produce. The providers themselves
// cannot be reached from here (no internet in CI): what each one does is documented, not tested.
import assert from "node:assert/strict";
import { test } from "node:test";
import { presets, LoginError, type LoginConfig } from "../src/index.js";
import { resolveConfig } from "../src/options/resolve.js";
import { resolveMetadata } from "../src/protocol/discovery.js";
import { authorizationUrl } from "../src/protocol/authorization.js";

/** The authorization URL login() would open for this config (with endpoints, no request made). */
async function signInUrl(config: LoginConfig, metadata?: { authorization_endpoint: string }): Promise<URL> {
  const resolved = resolveConfig(config);
  const as = metadata ? { issuer: resolved.issuerId!, token_endpoint: "https://unused.example/token", ...metadata } : await resolveMetadata(resolved);
  const redirect = `http://${resolved.redirect.host}:${resolved.redirect.port || 53682}${resolved.redirect.path}`;
  return authorizationUrl(
    as,
    resolved,
    redirect,
    { challenge: "c".repeat(43), method: "S256" },
    "state",
    resolved.scopes.includes("openid") ? "nonce" : undefined,
  );
}

test("GitHub: explicit endpoints (no discovery), secret sent in the form, loopback callback on any port", async () => {
  assert.deepEqual(presets.github(), {
    authorizationEndpoint: "https://github.com/login/oauth/authorize",
    tokenEndpoint: "https://github.com/login/oauth/access_token",
    tokenEndpointAuthMethod: "client_secret_post",
    scopes: ["read:user"],
    redirectUri: "http://127.0.0.1/callback",
  });
  const config = { ...presets.github(), clientId: "Iv1.abc", clientSecret: "from-settings" };
  const resolved = resolveConfig(config);
  assert.equal(resolved.redirect.port, 0, "any free port");
  assert.equal(resolved.issuer, undefined);
  // With both endpoints, the metadata is built without any request (GitHub has no discovery).
  const url = await signInUrl(config);
  assert.equal(url.origin + url.pathname, "https://github.com/login/oauth/authorize");
  assert.equal(url.searchParams.get("client_id"), "Iv1.abc");
  assert.equal(url.searchParams.get("scope"), "read:user");
  assert.match(url.searchParams.get("redirect_uri")!, /^http:\/\/127\.0\.0\.1:\d+\/callback$/);
  assert.equal(url.searchParams.get("code_challenge_method"), "S256");
  assert.equal(url.searchParams.get("nonce"), null, "no openid, no nonce");
});

test("Google: discovery at accounts.google.com, offline access and consent for a refresh token", async () => {
  const preset = presets.google();
  assert.equal(preset.issuer, "https://accounts.google.com");
  assert.deepEqual(preset.scopes, ["openid", "email", "profile"]);
  assert.deepEqual(preset.extraParams, { access_type: "offline", prompt: "consent" });
  const url = await signInUrl(
    { ...preset, clientId: "123.apps.googleusercontent.com" },
    { authorization_endpoint: "https://accounts.google.com/o/oauth2/v2/auth" },
  );
  assert.equal(url.searchParams.get("access_type"), "offline");
  assert.equal(url.searchParams.get("prompt"), "consent");
  assert.equal(url.searchParams.get("scope"), "openid email profile");
  assert.ok(url.searchParams.get("nonce"));
});

test("Microsoft Entra ID: the tenant in the issuer, localhost redirect, offline_access; common/organizations/consumers refused", () => {
  const tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
  assert.deepEqual(presets.entra({ tenant }), {
    issuer: `https://login.microsoftonline.com/${tenant}/v2.0`,
    scopes: ["openid", "profile", "offline_access"],
    redirectUri: "http://localhost",
  });
  const resolved = resolveConfig({ ...presets.entra({ tenant }), clientId: "app" });
  assert.equal(resolved.redirect.host, "localhost");
  assert.equal(resolved.redirect.port, 0);
  for (const bad of ["common", "organizations", "Consumers"]) {
    assert.throws(
      () => presets.entra({ tenant: bad }),
      (e: unknown) => e instanceof LoginError && e.code === "INVALID_CONFIG" && /Directory \(tenant\) ID/.test(e.message),
    );
  }
  assert.throws(() => presets.entra({ tenant: "" }), /`tenant` must be/);
  assert.throws(() => presets.entra({ tenant: "a/b" }), /`tenant` must be/);
});

test("Auth0: issuer with its trailing slash, audience only when given, fixed-port redirect", () => {
  const plain = presets.auth0({ domain: "acme.eu.auth0.com" });
  assert.equal(plain.issuer, "https://acme.eu.auth0.com/");
  assert.deepEqual(plain.extraParams, {});
  assert.ok(plain.scopes!.includes("offline_access"));
  assert.equal(plain.redirectUri, "http://localhost:8400/callback");
  assert.equal(resolveConfig({ ...plain, clientId: "x" }).redirect.port, 8400);
  assert.deepEqual(presets.auth0({ domain: "acme.eu.auth0.com", audience: "https://api.acme" }).extraParams, { audience: "https://api.acme" });
  assert.throws(() => presets.auth0({ domain: "https://acme.auth0.com" }), /`domain` must be a host name/);
});

test("Okta: the default authorization server unless told, the org server with null", () => {
  assert.equal(presets.okta({ domain: "acme.okta.com" }).issuer, "https://acme.okta.com/oauth2/default");
  assert.equal(presets.okta({ domain: "acme.okta.com", authorizationServer: "aus1234" }).issuer, "https://acme.okta.com/oauth2/aus1234");
  assert.equal(presets.okta({ domain: "acme.okta.com", authorizationServer: null }).issuer, "https://acme.okta.com");
  assert.equal(presets.okta({ domain: "acme.okta.com" }).redirectUri, "http://localhost:8400/callback");
});

test("Keycloak: issuer from base URL and realm (trailing slashes and odd realm names handled)", () => {
  assert.equal(presets.keycloak({ url: "https://kc.example.com/", realm: "team" }).issuer, "https://kc.example.com/realms/team");
  assert.equal(presets.keycloak({ url: "https://kc.example.com/auth", realm: "team" }).issuer, "https://kc.example.com/auth/realms/team");
  assert.equal(presets.keycloak({ url: "https://kc.example.com", realm: "data science" }).issuer, "https://kc.example.com/realms/data%20science");
  assert.throws(() => presets.keycloak({ url: "kc.example.com", realm: "x" }), /`url` must be a URL/);
});

test("GitLab: gitlab.com by default, self-managed by URL, fixed-port redirect", () => {
  assert.deepEqual(presets.gitlab(), {
    issuer: "https://gitlab.com",
    scopes: ["openid", "profile", "read_user"],
    redirectUri: "http://localhost:8400/callback",
  });
  assert.equal(presets.gitlab({ url: "https://gitlab.example.com/" }).issuer, "https://gitlab.example.com");
});

test("every preset spreads into a valid login() config, and the call's own fields win", () => {
  const all = [
    { ...presets.github(), clientSecret: "from-settings" },
    presets.google(),
    presets.entra({ tenant: "t" }),
    presets.auth0({ domain: "a.auth0.com" }),
    presets.okta({ domain: "o.okta.com" }),
    presets.keycloak({ url: "https://k.example", realm: "r" }),
    presets.gitlab(),
  ];
  for (const make of Object.values(presets)) {
    const preset = (make as (o: unknown) => object)({ tenant: "t", domain: "d.example", url: "https://k.example", realm: "r" });
    assert.ok(!("clientId" in preset) && !("clientSecret" in preset), "nothing personal in a preset");
  }
  for (const preset of all) {
    const resolved = resolveConfig({ ...preset, clientId: "app", scopes: ["custom"], redirectUri: "http://127.0.0.1:9999/cb" });
    assert.deepEqual(resolved.scopes, ["custom"]);
    assert.equal(resolved.redirect.port, 9999);
  }
});
