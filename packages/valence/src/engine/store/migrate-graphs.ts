/**
 * The data step of the migration to `graphs`: turns each dispatch's `nodes`
 * and `edges` rows (as schema version 2 has them), with its inputs and output
 * template, into a `graphs` row, and the `node_states` rows of the nodes that
 * have run. Written against those old
 * tables, so it must not change when the current schema does.
 */
import type Database from "better-sqlite3";
import { encodeEdges, encodeNodes, type SubmittedNode } from "./graph-codec.js";
import type { EdgeRecord } from "./records.js";

interface OldNode extends SubmittedNode {
  readonly outputFile: string | null;
  readonly stdout: string | null;
  readonly stderr: string | null;
  readonly error: string | null;
  readonly attempts: number;
  readonly startedAt: number | null;
  readonly endedAt: number | null;
}

export function graphsFromNodeRows(db: Database.Database): void {
  const nodes = db.prepare(
    `SELECT node_id AS nodeId, kind, name, electron_id AS electronId, status, executor, retries, timeout_ms AS timeoutMs, key, holes,
       value, output, output_file AS outputFile, stdout, stderr, error, attempts, started_at AS startedAt, ended_at AS endedAt,
       bundle_path AS bundlePath
     FROM nodes WHERE dispatch_id = ? ORDER BY node_id`,
  );
  const edges = db.prepare(`SELECT source, target, param FROM edges WHERE dispatch_id = ? ORDER BY rowid`);
  const insertGraph = db.prepare(`INSERT INTO graphs (dispatch_id, inputs, output_template, nodes, edges) VALUES (?, ?, ?, ?, ?)`);
  const insertState = db.prepare(
    `INSERT INTO node_states (dispatch, node_id, status, output, output_file, stdout, stderr, error, attempts, started_at, ended_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  // Every dispatch gets a graph, even one whose rows were never written (it then has no nodes).
  const dispatches = db.prepare(`SELECT id, inputs, output_template AS outputTemplate FROM dispatches ORDER BY rowid`);
  for (const { id, inputs, outputTemplate } of dispatches.all() as Array<{ id: string; inputs: string; outputTemplate: string }>) {
    const rows = nodes.all(id) as OldNode[];
    // The graph keeps each node's status and output as they are now, so a node that has not
    // run needs no state row; one that has keeps its whole state in its row.
    const key = Number(insertGraph.run(id, inputs, outputTemplate, encodeNodes(rows), encodeEdges(edges.all(id) as EdgeRecord[])).lastInsertRowid);
    for (const n of rows) {
      if (!hasRun(n)) continue;
      insertState.run(key, n.nodeId, n.status, n.output, n.outputFile, n.stdout, n.stderr, n.error, n.attempts, n.startedAt, n.endedAt);
    }
  }
}

function hasRun(n: OldNode): boolean {
  return (
    n.attempts !== 0 || n.startedAt !== null || n.endedAt !== null || n.outputFile !== null || n.stdout !== null || n.stderr !== null || n.error !== null
  );
}
