export { login } from "./login.js";
export { session, Session } from "./session.js";
export { beginLogin, PendingLogin } from "./manual.js";
export { logout, type LogoutConfig, type LogoutResult } from "./logout.js";
export type { LoginConfig } from "./config.js";
export type { AuthHeaders } from "./headers.js";
export { LoginError, type LoginErrorCode, type LoginErrorOptions } from "./errors.js";
export { presets, type Preset } from "./presets.js";
export { saveProfile, removeProfile, type ProfileSettings, type SaveProfileOptions } from "./profiles.js";
