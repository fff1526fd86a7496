#!/usr/bin/env node
// The `tslab-oauth` command; see ./main.ts.
import { main } from "./main.js";
import { LoginError } from "../errors.js";

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`tslab-oauth: ${error instanceof LoginError ? `${error.code}: ${error.message}` : (error as Error).message}\n`);
    process.exit(error instanceof LoginError ? 2 : 1);
  },
);
