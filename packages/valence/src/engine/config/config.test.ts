import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import {
  ConfigError,
  ConfigReadError,
  ConfigSyntaxError,
  ConfigValueError,
  UnknownConfigKeyError,
} from "../../errors.js";
import { executorSection, formatConfig, loadConfig } from "./index.js";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "valence-config-"));
after(() => fs.rmSync(root, { recursive: true, force: true }));

let n = 0;
/** A fresh home directory, and an env that points everything at it. */
function sandbox(): { home: string; env: NodeJS.ProcessEnv } {
  const home = path.join(root, `home${++n}`);
  fs.mkdirSync(home, { recursive: true });
  return { home, env: { HOME: home } };
}

function writeConfig(home: string, toml: string, rel = ".config/valence/valence.toml"): string {
  const file = path.join(home, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, toml);
  return file;
}

function expectError<E extends Error>(fn: () => unknown, cls: abstract new (...a: never[]) => E): E {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof cls, `expected ${cls.name}, got ${String(error)}`);
    assert.ok(error instanceof ConfigError);
    return error;
  }
  assert.fail(`expected ${cls.name}, nothing was thrown`);
}

describe("loadConfig: locations and defaults", () => {
  test("no file and no env: XDG defaults under HOME, every origin 'default'", () => {
    const { home, env } = sandbox();
    const cfg = loadConfig({ env });
    assert.deepEqual(cfg.file, {
      path: path.join(home, ".config/valence/valence.toml"),
      exists: false,
      origin: "default",
    });
    assert.deepEqual(cfg.dataDir, { value: path.join(home, ".local/share/valence"), origin: "default" });
    assert.deepEqual(cfg.executorDirs, { value: [], origin: "default" });
    assert.deepEqual(cfg.defaultExecutor, { value: "local", origin: "default" });
    assert.deepEqual(cfg.server.address, { value: undefined, origin: "default" });
    assert.deepEqual(Object.keys(cfg.executors), []);
  });

  test("XDG_CONFIG_HOME and XDG_DATA_HOME move the file and data dir; relative XDG values are ignored", () => {
    const { home, env } = sandbox();
    const xdgConfig = path.join(home, "xc");
    const file = writeConfig(xdgConfig, 'default_executor = "inline"\n', "valence/valence.toml");
    const cfg = loadConfig({ env: { ...env, XDG_CONFIG_HOME: xdgConfig, XDG_DATA_HOME: path.join(home, "xd") } });
    assert.equal(cfg.file.path, file);
    assert.equal(cfg.file.exists, true);
    assert.deepEqual(cfg.defaultExecutor, { value: "inline", origin: `file:${file}` });
    assert.equal(cfg.dataDir.value, path.join(home, "xd", "valence"));

    const relative = loadConfig({ env: { ...env, XDG_CONFIG_HOME: "rel", XDG_DATA_HOME: "rel" } });
    assert.equal(relative.file.path, path.join(home, ".config/valence/valence.toml"));
    assert.equal(relative.dataDir.value, path.join(home, ".local/share/valence"));
  });

  test("VALENCE_CONFIG names the file (relative to cwd); the path option beats it", () => {
    const { home, env } = sandbox();
    const a = writeConfig(home, 'default_executor = "a"\n', "a.toml");
    const b = writeConfig(home, 'default_executor = "b"\n', "b.toml");
    const viaEnv = loadConfig({ env: { ...env, VALENCE_CONFIG: "a.toml" }, cwd: home });
    assert.deepEqual(viaEnv.file, { path: a, exists: true, origin: "env:VALENCE_CONFIG" });
    assert.equal(viaEnv.defaultExecutor.value, "a");
    const viaOption = loadConfig({ env: { ...env, VALENCE_CONFIG: a }, path: b });
    assert.deepEqual(viaOption.file, { path: b, exists: true, origin: "option" });
    assert.equal(viaOption.defaultExecutor.value, "b");
  });

  test("a missing file named explicitly is fine too: defaults, and exists: false", () => {
    const { home, env } = sandbox();
    const cfg = loadConfig({ env, path: path.join(home, "nope.toml") });
    assert.equal(cfg.file.exists, false);
    assert.equal(cfg.defaultExecutor.origin, "default");
  });
});

describe("loadConfig: file values and env overrides", () => {
  test("file values carry file:<abs path>; relative paths resolve against the file's directory, ~ against HOME", () => {
    const { home, env } = sandbox();
    const file = writeConfig(
      home,
      [
        'data_dir = "data"',
        'executor_dirs = ["executors", "/abs/executors", "~/mine"]',
        'default_executor = "ssh"',
        "[server]",
        'address = "127.0.0.1:48008"',
        "[executors.ssh]",
        'hostname = "gpu1"',
        "port = 2222",
        "[executors.TimingExecutor]",
        "",
      ].join("\n"),
    );
    const origin = `file:${file}`;
    const dir = path.dirname(file);
    const cfg = loadConfig({ env });
    assert.deepEqual(cfg.dataDir, { value: path.join(dir, "data"), origin });
    assert.deepEqual(cfg.executorDirs, {
      value: [path.join(dir, "executors"), "/abs/executors", path.join(home, "mine")],
      origin,
    });
    assert.deepEqual(cfg.defaultExecutor, { value: "ssh", origin });
    assert.deepEqual(cfg.server.address, { value: "127.0.0.1:48008", origin });
    assert.deepEqual(executorSection(cfg, "ssh"), { hostname: "gpu1", port: 2222 });
    assert.deepEqual(executorSection(cfg, "TimingExecutor"), {});
    assert.deepEqual(executorSection(cfg, "dask"), {});
    assert.deepEqual(executorSection(cfg, "constructor"), {}, "names are looked up as own keys only");
    assert.equal(cfg.executors["ssh"]?.origin, origin);
  });

  test("env beats file beats default, and says so", () => {
    const { home, env } = sandbox();
    writeConfig(home, 'data_dir = "/from/file"\nexecutor_dirs = ["/file/dir"]\ndefault_executor = "ssh"\n');
    const cfg = loadConfig({
      env: {
        ...env,
        VALENCE_DATA_DIR: "/from/env",
        VALENCE_EXECUTOR_DIRS: ["/e1", "", "rel"].join(path.delimiter),
        VALENCE_DEFAULT_EXECUTOR: "inline",
      },
      cwd: "/work/dir",
    });
    assert.deepEqual(cfg.dataDir, { value: "/from/env", origin: "env:VALENCE_DATA_DIR" });
    assert.deepEqual(cfg.executorDirs, { value: ["/e1", "/work/dir/rel"], origin: "env:VALENCE_EXECUTOR_DIRS" });
    assert.deepEqual(cfg.defaultExecutor, { value: "inline", origin: "env:VALENCE_DEFAULT_EXECUTOR" });
  });

  test("an empty env variable counts as unset", () => {
    const { env } = sandbox();
    const cfg = loadConfig({ env: { ...env, VALENCE_DATA_DIR: "", VALENCE_DEFAULT_EXECUTOR: "", VALENCE_CONFIG: "" } });
    assert.equal(cfg.dataDir.origin, "default");
    assert.equal(cfg.defaultExecutor.origin, "default");
    assert.equal(cfg.file.origin, "default");
  });
});

describe("loadConfig: errors name the file, the place and the fix", () => {
  test("invalid TOML: file:line:column: parser message", () => {
    const { home, env } = sandbox();
    const file = writeConfig(home, 'data_dir = "/d"\n\nfoo = = 1\n');
    const error = expectError(() => loadConfig({ env }), ConfigSyntaxError);
    assert.equal(error.file, file);
    assert.equal(error.line, 3);
    assert.equal(error.column, 7);
    assert.match(error.message, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:3:7: invalid value`));
    assert.doesNotMatch(error.message, /Invalid TOML document/);
    assert.equal(error.code, "CONFIG_SYNTAX");
  });

  test("a redefined key is a syntax error too", () => {
    const { home, env } = sandbox();
    writeConfig(home, 'default_executor = "a"\ndefault_executor = "b"\n');
    const error = expectError(() => loadConfig({ env }), ConfigSyntaxError);
    assert.equal(error.line, 2);
    assert.match(error.message, /valence\.toml:2:1: .*redefine/);
  });

  test("a directory where the file should be is unreadable", () => {
    const { home, env } = sandbox();
    fs.mkdirSync(path.join(home, ".config/valence/valence.toml"), { recursive: true });
    const error = expectError(() => loadConfig({ env }), ConfigReadError);
    assert.equal(error.file, path.join(home, ".config/valence/valence.toml"));
    assert.match(error.message, /^cannot read config file .*valence\.toml: it is a directory$/);
  });

  test("a file that is not UTF-8 is unreadable", () => {
    const { home } = sandbox();
    const file = path.join(home, "latin1.toml");
    fs.writeFileSync(file, Buffer.from([0x61, 0x20, 0x3d, 0x20, 0x22, 0xe9, 0x22, 0x0a]));
    const error = expectError(() => loadConfig({ path: file, env: { HOME: home } }), ConfigReadError);
    assert.match(error.message, /not valid UTF-8/);
  });

  test("a path through a regular file is unreadable (not silently 'missing')", () => {
    const { home, env } = sandbox();
    fs.writeFileSync(path.join(home, "plain"), "");
    expectError(() => loadConfig({ env, path: path.join(home, "plain", "valence.toml") }), ConfigReadError);
  });

  const wrongTypes: Array<[string, string, RegExp]> = [
    ["executor_dirs = \"/one/dir\"", "executor_dirs", /executor_dirs must be an array of strings.*not the string "\/one\/dir"$/],
    ["executor_dirs = [\"/a\", 3]", "executor_dirs", /executor_dirs must be an array of strings \(directory paths\); item 1 is the number 3$/],
    ["data_dir = 42", "data_dir", /data_dir must be a directory path .*not the number 42$/],
    ['data_dir = ""', "data_dir", /data_dir must be a directory path .*not an empty string$/],
    ["data_dir = 1979-05-27", "data_dir", /data_dir must be a directory path .*not a date$/],
    ["default_executor = true", "default_executor", /default_executor must be an executor name .*not the boolean true$/],
    ['server = "x"', "server", /server must be a table \(\[server\]\), not the string "x"$/],
    ["[server]\naddress = 8080", "server.address", /server\.address must be an address .*not the number 8080$/],
    ["executors = 1", "executors", /executors must be a table of tables.*not the number 1$/],
    ["[executors]\nssh = \"host\"", "executors.ssh", /executors\.ssh must be a table of that executor's options.*not the string "host"$/],
  ];
  for (const [toml, key, message] of wrongTypes) {
    test(`wrong type: ${toml.replace("\n", " ")}`, () => {
      const { home, env } = sandbox();
      const file = writeConfig(home, `${toml}\n`);
      const error = expectError(() => loadConfig({ env }), ConfigValueError);
      assert.equal(error.key, key);
      assert.equal(error.source, file);
      assert.ok(error.message.startsWith(`${file}: ${key} `), error.message);
      assert.match(error.message, message);
    });
  }

  test("an unknown top-level key names the key and the known ones", () => {
    const { home, env } = sandbox();
    const file = writeConfig(home, 'data_dir = "/d"\nexecutor_dir = ["/typo"]\n');
    const error = expectError(() => loadConfig({ env }), UnknownConfigKeyError);
    assert.equal(error.key, "executor_dir");
    assert.deepEqual(error.known, ["data_dir", "executor_dirs", "default_executor", "output_limit", "retry", "retention", "store", "server", "traces", "executors"]);
    assert.equal(
      error.message,
      `${file}: unknown key "executor_dir". Known keys: data_dir, executor_dirs, default_executor, output_limit, retry, retention, store, server, traces, executors`,
    );
  });

  test("an unknown key in [server] is named with its table", () => {
    const { home, env } = sandbox();
    writeConfig(home, '[server]\nadress = "x"\n');
    const error = expectError(() => loadConfig({ env }), UnknownConfigKeyError);
    assert.equal(error.key, "server.adress");
    assert.deepEqual(error.known, ["server.address"]);
  });
});

describe("formatConfig", () => {
  test("shows every value with its origin and masks secrets", () => {
    const { home, env } = sandbox();
    const file = writeConfig(
      home,
      '[executors.ssh]\nhostname = "gpu1"\npassword = "hunter2"\nport = 22\n[executors.empty]\n',
    );
    const text = formatConfig(loadConfig({ env: { ...env, VALENCE_DEFAULT_EXECUTOR: "ssh" } }));
    const lines = text.split("\n");
    assert.equal(lines[0], `config file  ${file}`);
    const line = (key: string) => lines.find((l) => l.startsWith(`${key} `)) ?? assert.fail(`no line for ${key}:\n${text}`);
    assert.match(line("data_dir"), new RegExp(`"${path.join(home, ".local/share/valence")}"\\s+default$`));
    assert.match(line("executor_dirs"), /\[\]\s+default$/);
    assert.match(line("default_executor"), /"ssh"\s+env:VALENCE_DEFAULT_EXECUTOR$/);
    assert.match(line("server.address"), /\(unset\)\s+default$/);
    assert.match(line("executors.ssh.hostname"), new RegExp(`"gpu1"\\s+file:${file}$`));
    assert.match(line("executors.ssh.port"), /\b22\s+file:/);
    assert.match(line("executors.ssh.password"), /"\*\*\*\*\*\*\*\*"/);
    assert.match(line("executors.empty"), /\{\}\s+file:/);
    assert.doesNotMatch(text, /hunter2/);
  });

  test("says when the file was not found and why that path was used", () => {
    const { home, env } = sandbox();
    const text = formatConfig(loadConfig({ env: { ...env, VALENCE_CONFIG: path.join(home, "x.toml") } }));
    assert.equal(text.split("\n")[0], `config file  ${path.join(home, "x.toml")} (not found: defaults apply) [env:VALENCE_CONFIG]`);
  });
});

describe("loadConfig: the store", () => {
  test("defaults to SQLite; a Postgres URL comes from the file or, over it, VALENCE_STORE; the password is never shown", () => {
    const { home, env } = sandbox();
    assert.deepEqual(loadConfig({ env }).store, { value: { kind: "sqlite" }, origin: "default" });
    const file = writeConfig(home, 'store = "postgres://team:s3cret@db.lab:5432/valence"\n');
    const fromFile = loadConfig({ env });
    assert.deepEqual(fromFile.store, { value: { kind: "postgres", url: "postgres://team:s3cret@db.lab:5432/valence" }, origin: `file:${file}` });
    const text = formatConfig(fromFile);
    assert.match(text, /store\s+"postgres:\/\/team:\*\*\*@db\.lab:5432\/valence"\s+file:/);
    assert.doesNotMatch(text, /s3cret/);
    const viaEnv = loadConfig({ env: { ...env, VALENCE_STORE: "sqlite" } });
    assert.deepEqual(viaEnv.store, { value: { kind: "sqlite" }, origin: "env:VALENCE_STORE" });
  });

  test("refuses a store that is neither sqlite nor a Postgres URL, naming where it came from, without its password", () => {
    const { home, env } = sandbox();
    const bad = expectError(() => loadConfig({ env: { ...env, VALENCE_STORE: "mysql://root:pw@db/x" } }), ConfigValueError);
    assert.match(bad.message, /^env:VALENCE_STORE: store must be "sqlite" or a Postgres URL \(postgres:\/\/user:password@host:5432\/database\), not "mysql:\/\/root:\*\*\*@db\/x"$/);
    const file = writeConfig(home, 'store = "postgres:///valence?user=u&password=hunter2"\n');
    const noHost = expectError(() => loadConfig({ env }), ConfigValueError);
    assert.match(noHost.message, new RegExp(`^${file}: store names no host \\(postgres:///valence\\?user=u&password=\\*\\*\\*\\)`));
    assert.doesNotMatch(noHost.message, /hunter2/);
    writeConfig(home, "store = 5\n");
    assert.match(expectError(() => loadConfig({ env }), ConfigValueError).message, /store must be "sqlite" or a Postgres URL/);
  });
});

describe("loadConfig: output_limit", () => {
  test("defaults to 1 MiB; the file sets it and VALENCE_OUTPUT_LIMIT overrides the file; valence config shows it", () => {
    const { home, env } = sandbox();
    assert.deepEqual(loadConfig({ env }).outputLimit, { value: 1024 * 1024, origin: "default" });
    const file = writeConfig(home, "output_limit = 4096\n");
    const fromFile = loadConfig({ env });
    assert.deepEqual(fromFile.outputLimit, { value: 4096, origin: `file:${file}` });
    assert.match(formatConfig(fromFile), /output_limit\s+4096\s+file:/);
    assert.deepEqual(loadConfig({ env: { ...env, VALENCE_OUTPUT_LIMIT: "2048" } }).outputLimit, { value: 2048, origin: "env:VALENCE_OUTPUT_LIMIT" });
  });

  test("refuses a limit that is not a whole number of bytes of at least 1024, saying what it must be", () => {
    const { home, env } = sandbox();
    const fromEnv = expectError(() => loadConfig({ env: { ...env, VALENCE_OUTPUT_LIMIT: "1MiB" } }), ConfigValueError);
    assert.equal(fromEnv.message, 'env:VALENCE_OUTPUT_LIMIT: output_limit must be a whole number of bytes of at least 1024, such as 1048576 (1 MiB), not "1MiB"');
    assert.match(expectError(() => loadConfig({ env: { ...env, VALENCE_OUTPUT_LIMIT: "100" } }), ConfigValueError).message, /at least 1024.*not "100"/);
    const file = writeConfig(home, "output_limit = 12.5\n");
    const fromFile = expectError(() => loadConfig({ env }), ConfigValueError);
    assert.match(fromFile.message, new RegExp(`^${file}: output_limit must be a whole number of bytes of at least 1024`));
    writeConfig(home, 'output_limit = "big"\n');
    assert.match(expectError(() => loadConfig({ env }), ConfigValueError).message, /output_limit must be a whole number of bytes/);
  });
});

describe("loadConfig: [retry]", () => {
  test("is unset by default; the file's table becomes the retry policy of electrons that set none, and valence config shows it", () => {
    const { home, env } = sandbox();
    assert.deepEqual(loadConfig({ env }).retry, { value: undefined, origin: "default" });
    assert.doesNotMatch(formatConfig(loadConfig({ env })), /^retry/m);
    const file = writeConfig(home, '[retry]\nattempts = 4\nbackoff = 500\nmax_delay = 8000\non = ["TaskTimeoutError", "/ECONNRESET/i"]\n');
    const cfg = loadConfig({ env });
    assert.deepEqual(cfg.retry, {
      value: {
        retries: 3,
        policy: { initial: 500, factor: 2, maxDelay: 8000, jitter: true, on: [{ name: "TaskTimeoutError" }, { pattern: "ECONNRESET", flags: "i" }] },
      },
      origin: `file:${file}`,
    });
    assert.match(formatConfig(cfg), /^retry\s+\{"attempts":4,"initial":500,"factor":2,"maxDelay":8000,"jitter":true,"on":\[.*\]\}\s+file:/m);
  });

  test("refuses a bad [retry] table, naming the key to fix", () => {
    const { home, env } = sandbox();
    const file = writeConfig(home, "[retry]\nattempts = 0\n");
    assert.equal(expectError(() => loadConfig({ env }), ConfigValueError).message, `${file}: retry attempts must be a whole number from 1 to 1001 (tries in all, the first included), got number 0`);
    writeConfig(home, "[retry]\nattempts = 3\nbackoff = 5000\nmax_delay = 100\n");
    assert.match(expectError(() => loadConfig({ env }), ConfigValueError).message, /retry max_delay \(100 ms\) is shorter than the first delay \(5000 ms\)/);
    writeConfig(home, "[retry]\nattempts = 3\nfactor = 0.5\n");
    assert.match(expectError(() => loadConfig({ env }), ConfigValueError).message, /retry factor must be a number ≥ 1/);
    writeConfig(home, '[retry]\nattempts = 3\non = ["/(unclosed/"]\n');
    assert.match(expectError(() => loadConfig({ env }), ConfigValueError).message, /retry\.on has "\/\(unclosed\/", which is not a valid pattern/);
    writeConfig(home, "[retry]\nattempts = 3\ntries = 2\n");
    const typo = expectError(() => loadConfig({ env }), UnknownConfigKeyError);
    assert.deepEqual([typo.key, typo.known], ["retry.tries", ["retry.attempts", "retry.backoff", "retry.factor", "retry.max_delay", "retry.jitter", "retry.on"]]);
  });
});

describe("loadConfig: traces", () => {
  test("are off by default; the file's traces.endpoint, then OTEL_EXPORTER_OTLP_ENDPOINT, then OTEL_EXPORTER_OTLP_TRACES_ENDPOINT turn them on", () => {
    const { home, env } = sandbox();
    assert.deepEqual(loadConfig({ env }).traces, { value: undefined, origin: "default" });
    const file = writeConfig(home, '[traces]\nendpoint = "http://collector:4318/"\n');
    const fromFile = loadConfig({ env });
    assert.deepEqual(fromFile.traces, { value: { url: "http://collector:4318/v1/traces" }, origin: `file:${file}` });
    assert.match(formatConfig(fromFile), /traces\.endpoint\s+"http:\/\/collector:4318\/v1\/traces"\s+file:/);
    const base = { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: "https://otel.example:4318" };
    assert.deepEqual(loadConfig({ env: base }).traces, { value: { url: "https://otel.example:4318/v1/traces" }, origin: "env:OTEL_EXPORTER_OTLP_ENDPOINT" });
    // The traces-only variable is a whole URL, used as it is.
    const exact = { ...base, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://127.0.0.1:9999/spans" };
    assert.deepEqual(loadConfig({ env: exact }).traces, { value: { url: "http://127.0.0.1:9999/spans" }, origin: "env:OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" });
  });

  test("refuse an endpoint that is not an http(s) URL, naming the setting and where it came from", () => {
    const { home, env } = sandbox();
    const fromEnv = expectError(() => loadConfig({ env: { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" } }), ConfigValueError);
    assert.equal(fromEnv.message, 'env:OTEL_EXPORTER_OTLP_ENDPOINT: traces.endpoint must be an http or https URL such as "http://localhost:4318" (OTLP over HTTP), not "collector:4318"');
    assert.equal(fromEnv.key, "traces.endpoint");
    const notUrl = expectError(() => loadConfig({ env: { ...env, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "not a url" } }), ConfigValueError);
    assert.match(notUrl.message, /^env:OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: traces\.endpoint must be an http or https URL/);
    const file = writeConfig(home, '[traces]\nendpoint = "localhost"\n');
    const fromFile = expectError(() => loadConfig({ env }), ConfigValueError);
    assert.equal(fromFile.message, `${file}: traces.endpoint must be an http or https URL such as "http://localhost:4318", not "localhost"`);
    writeConfig(home, "[traces]\nendpont = 1\n");
    const typo = expectError(() => loadConfig({ env }), UnknownConfigKeyError);
    assert.deepEqual([typo.key, typo.known], ["traces.endpont", ["traces.endpoint"]]);
  });
});

describe("loadConfig: [retention]", () => {
  test("is unset by default; the file's ages become milliseconds, and valence config shows them", () => {
    const { home, env } = sandbox();
    assert.deepEqual(loadConfig({ env }).retention, { value: undefined, origin: "default" });
    const file = writeConfig(home, '[retention]\nolder_than = "30d"\nstatus = ["completed", "FAILED"]\n');
    const cfg = loadConfig({ env });
    assert.deepEqual(cfg.retention, { value: { olderThanMs: 30 * 86_400_000, everyMs: 3_600_000, statuses: ["COMPLETED", "FAILED"] }, origin: `file:${file}` });
    assert.match(formatConfig(cfg), /^retention\s+\{"olderThanMs":2592000000,"everyMs":3600000,"statuses":\["COMPLETED","FAILED"\]\}\s+file:/m);
    writeConfig(home, '[retention]\nolder_than = "12h"\nevery = "10m"\n');
    assert.deepEqual(loadConfig({ env }).retention.value, { olderThanMs: 12 * 3_600_000, everyMs: 600_000 });
  });

  test("refuses a bad [retention] table, naming the key to fix", () => {
    const { home, env } = sandbox();
    const file = writeConfig(home, '[retention]\nolder_than = "a month"\n');
    assert.equal(expectError(() => loadConfig({ env }), ConfigValueError).message, `${file}: retention.older_than must be an age such as 30d, 12h, 90m or 1w, not "a month"`);
    writeConfig(home, '[retention]\nolder_than = "1d"\nstatus = ["RUNNING"]\n');
    assert.match(expectError(() => loadConfig({ env }), ConfigValueError).message, /retention\.status takes final statuses \(COMPLETED, FAILED, CANCELLED\), not "RUNNING"/);
    writeConfig(home, '[retention]\nolder_than = "1d"\nevery = "100ms"\n');
    assert.match(expectError(() => loadConfig({ env }), ConfigValueError).message, /retention\.every must be at least 1s/);
    writeConfig(home, "[retention]\nevery = \"1h\"\n");
    assert.match(expectError(() => loadConfig({ env }), ConfigValueError).message, /retention\.older_than must be an age such as "30d"/);
  });
});
