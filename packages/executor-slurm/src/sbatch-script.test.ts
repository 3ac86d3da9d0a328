// The job script and the option checks: pure text, no Slurm.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ExecutorDefinitionError, type TaskPackage } from "valence/executor";
import type { DispatchId, NodeId } from "valence";
import { checkOptions, type SlurmExecutorOptions } from "./options.js";
import { jobName, sbatchScript } from "./sbatch-script.js";
import { SlurmExecutor } from "./slurm-executor.js";

const pkg: TaskPackage = {
  meta: { dispatchId: "dsp_script0000" as DispatchId, nodeId: 7 as unknown as NodeId, resultsDir: "/tmp/results" },
  electronName: "train model",
  runner: { localPath: "/x/valence-task.mjs", relPath: "valence-task-0123456789abcdef.mjs", hash: "0123456789abcdef" },
  bundle: { localPath: "/x/b.mjs", relPath: "bundles/feed.mjs", hash: "feed" },
  taskDir: "tasks/dsp_script0000/7-a1b2c3d4",
  taskJson: "{}",
};
const workdir = "/scratch/me/valence";
const taskDir = `${workdir}/tasks/dsp_script0000/7-a1b2c3d4`;

describe("sbatchScript", () => {
  test("minimal options: the executor's own flags and the task command", () => {
    assert.equal(
      sbatchScript({ options: {}, pkg, workdir }),
      [
        "#!/bin/bash",
        "#SBATCH --job-name=valence-7-train_model",
        `#SBATCH --output=${taskDir}/slurm.out`,
        `#SBATCH --error=${taskDir}/slurm.err`,
        `#SBATCH --chdir=${taskDir}`,
        "",
        "# The task: its own stdout and stderr go to the task's log files.",
        `cd ${workdir} && node valence-task-0123456789abcdef.mjs tasks/dsp_script0000/7-a1b2c3d4 > ${"tasks/dsp_script0000/7-a1b2c3d4"}/stdout.log 2> tasks/dsp_script0000/7-a1b2c3d4/stderr.log`,
        "__valence_status=$?",
        "exit $__valence_status",
        "",
      ].join("\n"),
    );
  });

  test("every option", () => {
    const options: SlurmExecutorOptions = {
      partition: "gpu",
      time: "1:30:00",
      cpusPerTask: 4,
      memory: "8G",
      account: "proj42",
      sbatchOptions: { qos: "high", exclusive: true, requeue: false, gres: "gpu:1", comment: 'say "hi" \\ there', nodes: 1 },
      prerunCommands: ["module load nodejs/20", "source ~/venv/bin/activate"],
      postrunCommands: ["echo done >> ~/log"],
      nodePath: "/opt/node 20/bin/node",
      env: { SLURM_CONF: "/etc/slurm/test.conf", GREETING: "it's me" },
    };
    const script = sbatchScript({ options, pkg, workdir });
    const sbatch = script.split("\n").filter((l) => l.startsWith("#SBATCH"));
    assert.deepEqual(sbatch, [
      "#SBATCH --job-name=valence-7-train_model",
      `#SBATCH --output=${taskDir}/slurm.out`,
      `#SBATCH --error=${taskDir}/slurm.err`,
      `#SBATCH --chdir=${taskDir}`,
      "#SBATCH --partition=gpu",
      "#SBATCH --time=1:30:00",
      "#SBATCH --cpus-per-task=4",
      "#SBATCH --mem=8G",
      "#SBATCH --account=proj42",
      "#SBATCH --qos=high",
      "#SBATCH --exclusive",
      "#SBATCH --gres=gpu:1",
      '#SBATCH --comment="say \\"hi\\" \\\\ there"',
      "#SBATCH --nodes=1",
    ]);
    assert.match(script, /\nexport SLURM_CONF=\/etc\/slurm\/test\.conf\nexport GREETING='it'\\''s me'\n/);
    const body = script.slice(script.indexOf("module load"));
    // Prerun commands come before the task, each checked; postrun commands after it, from the task's directory.
    assert.ok(body.indexOf("module load nodejs/20") < body.indexOf("source ~/venv") && body.indexOf("source ~/venv") < body.indexOf("'/opt/node 20/bin/node'"));
    assert.match(body, /module load nodejs\/20\n__valence_rc=\$\?; if \[ "\$__valence_rc" -ne 0 \]; then .*exit 97; fi\n/);
    assert.match(body, new RegExp(`__valence_status=\\$\\?\\n\\n# postrunCommands.*\\ncd ${taskDir}\\necho done >> ~/log\\nexit \\$__valence_status\\n$`));
  });

  test("sbatchOptions['job-name'] replaces the default name", () => {
    const script = sbatchScript({ options: { sbatchOptions: { "job-name": "mine" } }, pkg, workdir });
    assert.match(script, /#SBATCH --job-name=mine\n/);
    assert.doesNotMatch(script, /valence-7/);
  });

  test("job names keep to characters Slurm tools print cleanly", () => {
    assert.equal(jobName({ ...pkg, electronName: "a/b c;d" }), "valence-7-a_b_c_d");
  });

  test("the script runs under bash: prerun failure stops before the task, postrun keeps the task's exit code", async () => {
    const { execFileSync } = await import("node:child_process");
    const run = (options: SlurmExecutorOptions) => {
      const script = sbatchScript({ options: { ...options, nodePath: "/bin/false" }, pkg, workdir: "/tmp" });
      try {
        execFileSync("/bin/bash", ["-c", script], { stdio: "pipe" });
        return { code: 0, stderr: "" };
      } catch (error) {
        const e = error as { status: number; stderr: Buffer };
        return { code: e.status, stderr: e.stderr.toString() };
      }
    };
    const prerun = run({ prerunCommands: ["true", "exit_code_3() { return 3; }; exit_code_3"] });
    assert.equal(prerun.code, 97);
    assert.match(prerun.stderr, /valence: prerun command failed with exit code 3: exit_code_3\(\)/);
    // The task command's `cd /tmp` works and /bin/false exits 1; postrun runs and the job keeps 1.
    assert.equal(run({ postrunCommands: ["true"] }).code, 1);
  });
});

describe("options", () => {
  const bad = (options: Record<string, unknown>, message: RegExp) =>
    assert.throws(() => checkOptions(options as SlurmExecutorOptions), (e: unknown) => e instanceof ExecutorDefinitionError && message.test(e.message));

  test("good options pass", () => {
    checkOptions({
      partition: "debug",
      time: 90,
      cpusPerTask: 2,
      memory: 512,
      account: "a",
      sbatchOptions: { qos: "x", exclusive: true },
      prerunCommands: ["true"],
      postrunCommands: [],
      nodePath: "node",
      remoteWorkdir: "~/work",
      env: { SLURM_CONF: "/x" },
      ssh: { hostname: "login", port: 22, username: "me", sshKeyFile: "/k", knownHostsFile: "/kh", connectTimeout: 5 },
      pollFreq: 2,
      maxConcurrency: 10,
    });
    for (const time of ["30", "30:00", "1:30:00", "2-0", "2-12:00", "2-12:00:00", "UNLIMITED"]) checkOptions({ time });
    for (const memory of ["100", "512M", "4G", "1t"]) checkOptions({ memory });
  });

  test("sbatchOptions keys must be sbatch long option names", () => {
    bad({ sbatchOptions: { "--qos": "x" } }, /sbatchOptions key "--qos" is not an sbatch long option name \(\[a-z-\]\+/);
    bad({ sbatchOptions: { "qos=high --wrap": "x" } }, /is not an sbatch long option name/);
    bad({ sbatchOptions: { QOS: "x" } }, /is not an sbatch long option name/);
  });

  test("sbatchOptions may not take over the executor's own flags or repeat a named option", () => {
    bad({ sbatchOptions: { output: "/tmp/x" } }, /may not set "output"/);
    bad({ sbatchOptions: { chdir: "/tmp" } }, /may not set "chdir"/);
    bad({ partition: "a", sbatchOptions: { partition: "b" } }, /--partition is set twice, by the option "partition" and by sbatchOptions/);
    bad({ memory: "1G", sbatchOptions: { mem: "2G" } }, /--mem is set twice/);
    bad({ sbatchOptions: { comment: "two\nlines" } }, /must be a string without newlines/);
  });

  test("each option's shape", () => {
    bad({ partition: "" }, /partition must be a non-empty string without spaces/);
    bad({ partition: "a b" }, /partition must be/);
    bad({ time: "an hour" }, /time must be minutes or a Slurm time/);
    bad({ time: -1 }, /time must be/);
    bad({ cpusPerTask: 1.5 }, /cpusPerTask must be a whole number above 0/);
    bad({ memory: "lots" }, /memory must be megabytes or a size/);
    bad({ prerunCommands: "module load x" }, /prerunCommands must be an array of shell command strings/);
    bad({ nodePath: "" }, /nodePath must be a non-empty path/);
    bad({ remoteWorkdir: "/tmp/%j" }, /remoteWorkdir must be a non-empty path without newlines or "%"/);
    bad({ env: { "NOT A NAME": "x" } }, /env name "NOT A NAME" is not a shell variable name/);
    bad({ env: { N: 1 } }, /env\.N must be a string/);
    bad({ ssh: { port: 22 } }, /ssh\.hostname must be the login node's host name/);
    bad({ ssh: { hostname: "h", password: "x" } }, /unknown ssh option "password"/);
  });

  test("unknown option names are refused, listing the known ones", () => {
    bad({ cpus_per_task: 2 }, /unknown option "cpus_per_task" \(known: partition, time, cpusPerTask/);
  });

  test("all problems are reported at once", () => {
    bad({ partition: "", cpusPerTask: 0 }, /partition must be.*; cpusPerTask must be/);
  });

  test("the constructor checks, so a typo fails at the user's line", () => {
    assert.throws(() => new SlurmExecutor({ memory: "a lot" }), ExecutorDefinitionError);
    assert.throws(() => new SlurmExecutor({ pollFreq: 0 }), /pollFreq must be a number of seconds above 0/);
  });
});
