/**
 * `util.inspect.custom`, without loading node:util: Node defines it as this registered symbol, and
 * importing node:util costs more than a warm login.
 */
export const INSPECT = Symbol.for("nodejs.util.inspect.custom");
