// The warm path, as a kernel meets it: a process imports the built package (dist/index.js, what
// users load), then calls login() for a sign-in already saved. It writes "--- import" and
// "--- login" to $LOAD_TRACE_FILE between the phases (load-trace.ts records the modules) and
// prints one JSON line: whether login() returned the saved token without a browser.
import { appendFileSync } from "node:fs";

const [dist, configJson] = [process.argv[2]!, process.argv[3]!];
const mark = (phase: string): void => appendFileSync(process.env.LOAD_TRACE_FILE!, `--- ${phase}\n`);
const { login } = (await import(dist)) as typeof import("../../src/index.js");
mark("import");
let browserOpened = false;
const headers = await login({ ...JSON.parse(configJson), openBrowser: () => void (browserOpened = true) });
mark("login");
process.stdout.write(`${JSON.stringify({ bearer: headers.Authorization.startsWith("Bearer "), browserOpened })}\n`);
