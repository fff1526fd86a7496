export { login } from "./login.js";
export type { LoginConfig } from "./config.js";
export type { AuthHeaders } from "./headers.js";
export { LoginError, type LoginErrorCode, type LoginErrorOptions } from "./errors.js";
