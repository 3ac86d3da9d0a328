/**
 * Where Valence looks for its files, following the XDG base-directory spec so
 * that config and data land where Linux users expect them.
 */
import os from "node:os";
import path from "node:path";

/** The home directory, from `env` first so tests and sandboxes can move it. */
export function homeDir(env: NodeJS.ProcessEnv): string {
  return env["HOME"] || os.homedir();
}

/** `$XDG_xxx` if it is set to an absolute path (the spec says to ignore relative ones), else `~/<fallback>`. */
function xdgDir(env: NodeJS.ProcessEnv, variable: string, fallback: string): string {
  const value = env[variable];
  return value && path.isAbsolute(value) ? value : path.join(homeDir(env), fallback);
}

/** `$XDG_CONFIG_HOME/valence/valence.toml`, i.e. `~/.config/valence/valence.toml` by default. */
export function defaultConfigPath(env: NodeJS.ProcessEnv): string {
  return path.join(xdgDir(env, "XDG_CONFIG_HOME", ".config"), "valence", "valence.toml");
}

/** `$XDG_DATA_HOME/valence`, i.e. `~/.local/share/valence` by default. */
export function defaultDataDir(env: NodeJS.ProcessEnv): string {
  return path.join(xdgDir(env, "XDG_DATA_HOME", path.join(".local", "share")), "valence");
}

/**
 * Makes a user-written path absolute: `~` and `~/…` expand to the home
 * directory (TOML strings and quoted env values get no shell expansion),
 * anything else relative resolves against `baseDir`.
 */
export function absolutePath(p: string, baseDir: string, env: NodeJS.ProcessEnv): string {
  if (p === "~") return homeDir(env);
  if (p.startsWith("~/")) return path.join(homeDir(env), p.slice(2));
  return path.resolve(baseDir, p);
}
