// FileTransfer over HTTP, end to end on this machine: a tiny file server stands in for the
// web server or object store your data lives on. Run: npx valence run examples/file-transfer/workflow.ts
import { createServer } from "node:http";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileTransfer, dispatch, electron, getResult, lattice } from "valence";

// Stand-in server (only in the dispatching script, not in the task's workers): GET /in.csv, PUT anything.
const uploads = new Map<string, string>();
const port = Number(process.env.EXAMPLE_PORT ?? 48123);
const base = `http://demo:s3cret@127.0.0.1:${port}`;
if (!process.env.EXAMPLE_SERVER_UP) {
  process.env.EXAMPLE_SERVER_UP = "1"; // local workers inherit this and load this module without a server
  createServer((req, res) => {
    if (req.method === "GET") return void res.end("name,score\nada,3\nalan,4\n");
    let body = "";
    req.on("data", (c) => (body += c)).on("end", () => (uploads.set(req.url!, body), res.writeHead(201).end()));
  }).listen(port, "127.0.0.1").unref();
}

const scratch = join(tmpdir(), "valence-file-transfer-example");
mkdirSync(scratch, { recursive: true });

export const total = electron(
  () => {
    const rows = readFileSync(join(scratch, "in.csv"), "utf8").trim().split("\n").slice(1);
    const sum = rows.reduce((s, row) => s + Number(row.split(",")[1]), 0);
    writeFileSync(join(scratch, "total.txt"), String(sum));
    return sum;
  },
  {
    executor: "local",
    files: [
      FileTransfer(`${base}/in.csv`, join(scratch, "in.csv")), //  downloaded before the task (HTTP inferred)
      FileTransfer(join(scratch, "total.txt"), `${base}/out/total.txt`), //  uploaded after it (a remote `to`)
    ],
  },
);

export const workflow = lattice(() => total());

const id = await dispatch(workflow)();
const result = await getResult(id, { wait: true });
console.log(`status ${result.status}, result ${String(result.result)}, uploaded ${uploads.get("/out/total.txt")}`);
