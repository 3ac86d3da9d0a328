/** Reads the TOML config file, turning every way it can fail into a typed `ConfigError`. */
import { readFileSync } from "node:fs";
import { parse, TomlError } from "smol-toml";
import { ConfigReadError, ConfigSyntaxError } from "../../errors.js";

// TOML files must be UTF-8; a lenient decode would turn bad bytes into U+FFFD and hide the problem.
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Parses the config file at `file` (absolute). Returns `undefined` when there
 * is no file there, because a missing config means "use the defaults".
 *
 * @example
 * const table = readConfigFile("/home/me/.config/valence/valence.toml"); // { data_dir: "…" } | undefined
 */
export function readConfigFile(file: string): Record<string, unknown> | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    const reason = code === "EISDIR" ? "it is a directory" : (error as Error).message;
    throw new ConfigReadError(file, reason, { cause: error });
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch (error) {
    throw new ConfigReadError(file, "it is not valid UTF-8 text", { cause: error });
  }
  try {
    return parse(text);
  } catch (error) {
    if (error instanceof TomlError) {
      throw new ConfigSyntaxError(file, error.line, error.column, parserDetail(error), { cause: error });
    }
    throw new ConfigReadError(file, (error as Error).message, { cause: error });
  }
}

/**
 * smol-toml's message is "Invalid TOML document: <what>\n\n<code excerpt>";
 * keep the excerpt (it points at the column) but drop the redundant prefix.
 */
function parserDetail(error: TomlError): string {
  const [first = "", ...rest] = error.message.split("\n");
  const what = first.replace(/^Invalid TOML document:\s*/, "");
  const excerpt = rest.join("\n").trim() ? `\n${rest.join("\n").replace(/^\n+/, "").trimEnd()}` : "";
  return what + excerpt;
}
