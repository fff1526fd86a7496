// The `tslab-oauth` command. `token`, `status`, `logout`: the saved sign-ins from a terminal
// (./token.ts). `profile`, `profiles`: set up a profile once on this machine, so that shared
// notebooks only say `login({ profile: "name" })`; the secret is typed (or piped), never an argument
// that the shell history would keep.
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Writable } from "node:stream";
import { parseArgs } from "node:util";
import { defaultConfigDir } from "../store/files.js";
import { parseCacheDir } from "../options/parse.js";
import { LoginError } from "../errors.js";
import { closestName } from "../options/known.js";
import { presets, type Preset } from "../options/presets.js";
import { removeProfile, saveProfile } from "../api/profiles.js";
import type { ProfileSettings } from "../options/types.js";
import { PROFILES_FILE, readProfiles } from "../store/profiles.js";
import { signOut, status, token } from "./token.js";

const USAGE = `Usage:
  tslab-oauth token [--profile <name> | --resource <api url> | --issuer <url> --client-id <id> --scope "<a b>"] [--header]
                    [--flow loopback|device|manual] [--timeout <seconds>] [--redirect-uri <uri>]
  tslab-oauth status
  tslab-oauth logout [--profile <name> | --resource <api url> | --issuer <url> --client-id <id> --scope "<a b>" [--dpop]] [--no-revoke]
  tslab-oauth profile <name> [--preset <provider>] [--issuer <url>] --client-id <id> [--client-secret -] [options]
  tslab-oauth profile <name> --remove
  tslab-oauth profiles
  tslab-oauth demo [--port 9400]

token prints a valid access token for one sign-in, and nothing else, on stdout: from the saved
sign-in (the same one login() with these options uses), else a silent refresh, else a sign-in in
this terminal (the link on stderr). --header prints "Authorization: Bearer <token>" instead.
With TSLAB_OAUTH_INTERACTIVE=0 it never signs in: it fails at once with INTERACTION_REQUIRED.
--resource signs in to an API by its URL alone (its metadata says where; a client is registered
for you there). status lists the saved sign-ins and the registered clients (never a token). logout revokes and forgets one, like logout().
Failures exit non-zero with the error code and message on stderr.

demo runs a local identity provider to sign in against (any user name signs in) and a demo API, until
Ctrl-C; it needs oidc-provider and jose installed next to tslab-oauth (it says so when they are not).

profile saves a profile in ${join("<config dir>", PROFILES_FILE)} (readable by you only); a notebook then
signs in with login({ profile: "<name>" }) and carries no client settings.

  --preset <provider>         github, google, gitlab, entra (--tenant), auth0 (--domain [--audience]),
                              okta (--domain [--authorization-server]), keycloak (--url --realm)
  --resource <url>            the API to sign in to (RFC 9728): issuer and client found from it
  --issuer, --authorization-endpoint, --token-endpoint, --revocation-endpoint <url>
  --client-id <id>
  --client-secret -           read the secret from standard input (typed, hidden, or piped)
  --scope, --scopes "<a b c>" the scopes (the same option); in a profile, replaces the preset's
  --redirect-uri <uri>
  --grant client_credentials  a service account (needs --client-secret -)
  --dpop                      bind the tokens to a key (RFC 9449): for session() only, not login() or token
  --no-par                    never push the sign-in request, even where the server offers PAR (RFC 9126)
  --cache-dir <dir>           where the settings and tokens live (default: $TSLAB_OAUTH_CACHE_DIR, else the config dir)
  --store auto|keychain|file  where the tokens' secrets are kept: the OS secret store, else (auto) or only (file) an
                              owner-only file (default: $TSLAB_OAUTH_STORE, else auto)
`;

async function readSecret(): Promise<string> {
  const interactive = process.stdin.isTTY === true;
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (!muted) process.stderr.write(chunk);
      callback();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: interactive });
  try {
    if (interactive) process.stderr.write("Client secret (not shown): ");
    muted = true;
    const line = await new Promise<string>((resolve) => {
      rl.once("line", resolve);
      rl.once("close", () => resolve(""));
    });
    if (interactive) process.stderr.write("\n");
    return line.trim();
  } finally {
    rl.close();
  }
}

function preset(name: string | undefined, values: Record<string, string | boolean | undefined>): Preset {
  const str = (key: string): string => String(values[key] ?? "");
  switch (name) {
    case undefined:
      return {};
    case "github":
      return presets.github();
    case "google":
      return presets.google();
    case "gitlab":
      return presets.gitlab(values.url ? { url: str("url") } : {});
    case "entra":
      return presets.entra({ tenant: str("tenant") });
    case "auth0":
      return presets.auth0({ domain: str("domain"), ...(values.audience ? { audience: str("audience") } : {}) });
    case "okta":
      return presets.okta({ domain: str("domain"), ...(values["authorization-server"] ? { authorizationServer: str("authorization-server") } : {}) });
    case "keycloak":
      return presets.keycloak({ url: str("url"), realm: str("realm") });
    default:
      throw new LoginError("INVALID_CONFIG", `Unknown preset ${JSON.stringify(name)}: use one of ${Object.keys(presets).join(", ")}.`);
  }
}

const SELECTION = [
  "profile",
  "resource",
  "issuer",
  "client-id",
  "scope",
  "scopes",
  "authorization-endpoint",
  "token-endpoint",
  "revocation-endpoint",
  "cache-dir",
  "store",
  "grant",
  "dpop",
];
/** What each command takes; any other option is an error, never silently ignored. */
const COMMAND_OPTIONS: Record<string, string[]> = {
  token: [...SELECTION, "header", "flow", "timeout", "redirect-uri"],
  status: ["cache-dir"],
  logout: [...SELECTION, "no-revoke"],
  profile: [
    ...["preset", "tenant", "domain", "audience", "authorization-server", "url", "realm", "issuer", "resource", "authorization-endpoint", "token-endpoint"],
    ...["revocation-endpoint", "client-id", "client-secret", "scope", "scopes", "redirect-uri", "cache-dir", "store", "remove", "grant", "dpop", "no-par"],
  ],
  profiles: ["cache-dir"],
  demo: ["port"],
};

function checkCommandOptions(command: string | undefined, given: string[]): void {
  const allowed = command ? COMMAND_OPTIONS[command] : undefined;
  if (!allowed) return;
  const stray = given.find((option) => option !== "help" && !allowed.includes(option));
  if (stray === undefined) return;
  const elsewhere = Object.entries(COMMAND_OPTIONS)
    .filter(([, options]) => options.includes(stray))
    .map(([other]) => other);
  throw new LoginError(
    "INVALID_CONFIG",
    `\`--${stray}\` is not an option of \`tslab-oauth ${command}\`${elsewhere.length ? ` (it is one of ${elsewhere.map((c) => `\`${c}\``).join(", ")})` : ""}: see \`tslab-oauth --help\`.`,
  );
}

const OPTIONS = {
  preset: { type: "string" },
  tenant: { type: "string" },
  domain: { type: "string" },
  audience: { type: "string" },
  "authorization-server": { type: "string" },
  url: { type: "string" },
  realm: { type: "string" },
  issuer: { type: "string" },
  resource: { type: "string" },
  "authorization-endpoint": { type: "string" },
  "token-endpoint": { type: "string" },
  "revocation-endpoint": { type: "string" },
  "client-id": { type: "string" },
  "client-secret": { type: "string" },
  scopes: { type: "string" },
  "redirect-uri": { type: "string" },
  "cache-dir": { type: "string" },
  store: { type: "string" },
  remove: { type: "boolean" },
  profile: { type: "string" },
  scope: { type: "string" },
  grant: { type: "string" },
  dpop: { type: "boolean" },
  "no-par": { type: "boolean" },
  header: { type: "boolean" },
  "no-revoke": { type: "boolean" },
  flow: { type: "string" },
  timeout: { type: "string" },
  port: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** The command line, or INVALID_CONFIG naming the option meant for one it does not know. */
function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (error) {
    const unknown = /Unknown option '(-{1,2})([^']+)'/.exec((error as Error)?.message ?? "");
    if ((error as NodeJS.ErrnoException)?.code !== "ERR_PARSE_ARGS_UNKNOWN_OPTION" || !unknown) throw error;
    const meant = closestName(unknown[2]!, Object.keys(OPTIONS));
    throw new LoginError(
      "INVALID_CONFIG",
      `\`${unknown[1]}${unknown[2]}\` is not an option of tslab-oauth${meant ? `: did you mean \`--${meant}\`?` : "."} See \`tslab-oauth --help\`.`,
      { cause: error },
    );
  }
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(argv);
  const [command, name] = positionals;
  checkCommandOptions(command, Object.keys(values));
  // One spelling or the other, everywhere: --scope and --scopes are the same option.
  if (values.scope !== undefined && values.scopes !== undefined && values.scope !== values.scopes) {
    throw new LoginError("INVALID_CONFIG", "Give the scopes once: `--scope` and `--scopes` are the same option.");
  }
  values.scopes ??= values.scope;
  values.scope ??= values.scopes;
  const options = values["cache-dir"] ? { cacheDir: values["cache-dir"] } : {};
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return values.help ? 0 : 2;
  }
  if (command === "token") return token(values);
  if (command === "status") return status(values);
  if (command === "demo") return (await import("./demo.js")).demo(values);
  if (command === "logout") return signOut(values);
  if (command === "profiles") {
    const dir = parseCacheDir(options.cacheDir) ?? defaultConfigDir();
    const profiles = readProfiles(dir);
    const names = Object.keys(profiles);
    if (names.length === 0) process.stdout.write(`No profiles in ${join(dir, PROFILES_FILE)}.\n`);
    for (const profile of names) {
      const p = profiles[profile]!;
      const where = p.issuer ?? p.authorizationEndpoint ?? "?";
      process.stdout.write(`${profile}: ${where}, client ${p.clientId ?? "?"}${p.clientSecret ? ", secret set" : ""}\n`);
    }
    return 0;
  }
  if (command !== "profile" || !name) {
    process.stderr.write(USAGE);
    return 2;
  }
  if (values.remove) {
    const removed = await removeProfile(name, options);
    process.stdout.write(removed ? `Removed the profile ${name}.\n` : `There was no profile ${name}.\n`);
    return 0;
  }
  const secretArg = values["client-secret"];
  if (secretArg !== undefined && secretArg !== "-") {
    throw new LoginError(
      "INVALID_CONFIG",
      "Pass `--client-secret -` and type the secret (or pipe it): a secret on the command line stays in your shell history.",
    );
  }
  const settings: ProfileSettings = { ...preset(values.preset, values) };
  const set = <K extends keyof ProfileSettings>(key: K, value: ProfileSettings[K] | undefined): void => {
    if (value !== undefined) settings[key] = value;
  };
  set("resource", values.resource);
  set("issuer", values.issuer);
  set("authorizationEndpoint", values["authorization-endpoint"]);
  set("tokenEndpoint", values["token-endpoint"]);
  set("revocationEndpoint", values["revocation-endpoint"]);
  set("clientId", values["client-id"]);
  set("scopes", values.scopes);
  set("redirectUri", values["redirect-uri"]);
  set("store", values.store);
  set("grant", values.grant as ProfileSettings["grant"]);
  if (values.dpop) settings.dpop = true;
  if (values["no-par"]) settings.par = false;
  if (secretArg === "-") {
    const secret = await readSecret();
    if (!secret) throw new LoginError("INVALID_CONFIG", "No client secret was read from standard input.");
    settings.clientSecret = secret;
  }
  const path = await saveProfile(name, settings, options);
  process.stdout.write(
    `Saved the profile ${name} in ${path}. In a notebook: await ${settings.dpop ? "session" : "login"}({ profile: ${JSON.stringify(name)} })\n`,
  );
  return 0;
}
