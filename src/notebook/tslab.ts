import type { DisplayEntry, KernelDisplay } from "./display.js";

/**
 * The display in a tslab kernel, the only module that talks to tslab. It reaches the running
 * kernel's own tslab module through `globalThis.__tslab__` (a plain `require("tslab")` from a
 * linked or nested copy of this package would load another copy, which throws "Not ready"), and
 * uses `newDisplay()` entries: tslab has no clear_output, and stream output written with
 * console.log could never be taken back.
 */
interface TslabModule {
  newDisplay(): { html(s: string): void };
}

export function tslabDisplay(): KernelDisplay | undefined {
  const hook = (globalThis as { __tslab__?: { require?: (id: string) => unknown } }).__tslab__;
  if (!hook || typeof hook.require !== "function") return undefined;
  let tslab: Partial<TslabModule> | undefined;
  try {
    tslab = hook.require("tslab") as Partial<TslabModule> | undefined;
  } catch {
    return undefined;
  }
  if (typeof tslab?.newDisplay !== "function") return undefined;
  const module = tslab as TslabModule;
  return {
    newEntry(): DisplayEntry {
      const display = module.newDisplay();
      return {
        html(markup: string): void {
          try {
            display.html(markup);
          } catch {
            // The cell is gone (interrupted, kernel busy elsewhere): nothing left to show it in.
          }
        },
      };
    },
  };
}
