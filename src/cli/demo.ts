// `tslab-oauth demo`: something to sign in against without a clone of the repository. The demo
// identity provider (a real oidc-provider, any user name signs in) and the demo API, from the
// package's demo/ folder, on http://127.0.0.1:9400 and :9401, until Ctrl-C. Its two dependencies
// are optional peers of the package: without them it says what to install.
import { LoginError } from "../errors.js";

const DEMO_DEPENDENCIES = ["oidc-provider", "jose"];

/** What this command uses of demo/idp.js and demo/api.js (plain JavaScript, shipped as they are). */
interface DemoIdpModule {
  DEMO_CLIENT_ID: string;
  startDemoIdp(options: Record<string, unknown>): Promise<{ issuer: string; close(): Promise<unknown> }>;
}
interface DemoApiModule {
  startDemoApi(options: { idp: unknown; port: number }): Promise<{ resource: string; close(): Promise<unknown> }>;
}

export async function demo(flags: { port?: string | undefined }): Promise<number> {
  const port = flags.port === undefined ? 9400 : Number(flags.port);
  if (!Number.isInteger(port) || port <= 0 || port > 65534) throw new LoginError("INVALID_CONFIG", "`--port` takes a port number, e.g. `--port 9400`.");
  let modules: [DemoIdpModule, DemoApiModule];
  try {
    // From dist/cli/bin.js: the package's demo/ folder.
    const base = new URL("../../demo/", import.meta.url);
    modules = (await Promise.all([import(new URL("idp.js", base).href), import(new URL("api.js", base).href)])) as [DemoIdpModule, DemoApiModule];
  } catch (error) {
    const missing = DEMO_DEPENDENCIES.filter((name) => String((error as Error)?.message).includes(`'${name}'`));
    if ((error as NodeJS.ErrnoException)?.code !== "ERR_MODULE_NOT_FOUND" || missing.length === 0) throw error;
    process.stderr.write(
      `The demo needs ${DEMO_DEPENDENCIES.join(" and ")}, which tslab-oauth itself does not: install them next to it, then run this again:\n` +
        `  npm install --save-dev ${DEMO_DEPENDENCIES.join(" ")}\n`,
    );
    return 2;
  }
  const [{ startDemoIdp, DEMO_CLIENT_ID }, { startDemoApi }] = modules;
  const idp = await startDemoIdp({ port, par: true, registration: "open", resourceIndicators: true, deviceFlow: true });
  const api = await startDemoApi({ idp, port: port + 1 });
  process.stdout.write(
    `Demo identity provider: ${idp.issuer} (any user name and password sign in; its state lives in memory)\n` +
      `Demo API, to sign in to by its URL alone: ${api.resource}\n\n` +
      `In a notebook cell:\n` +
      `  import { login } from "tslab-oauth";\n` +
      `  const headers = await login({ issuer: "${idp.issuer}", clientId: "${DEMO_CLIENT_ID}", scopes: ["openid", "profile"] });\n` +
      `  const res = await fetch("${idp.issuer}/api/me", { headers });\n\n` +
      `Ctrl-C stops it.\n`,
  );
  await new Promise<void>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.once(signal, () => resolve());
  });
  await api.close();
  await idp.close();
  return 0;
}
