export { login } from "./api/login.js";
export { session, Session } from "./api/session.js";
export { beginLogin, PendingLogin } from "./api/begin-login.js";
export { logout, type LogoutConfig, type LogoutResult } from "./api/logout.js";
export type { LoginConfig } from "./options/config.js";
export type { AuthHeaders } from "./api/headers.js";
export { LoginError, type LoginErrorCode, type LoginErrorOptions } from "./errors.js";
export { presets, type Preset } from "./options/presets.js";
export { saveProfile, removeProfile, type ProfileSettings, type SaveProfileOptions } from "./options/profiles.js";
