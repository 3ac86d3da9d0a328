/**
 * The dashboard's task-stream timeline (`GET /dispatches/:id/timeline`): every
 * node that started, as a bar from its start to its end on the lane it ran on
 * (a local worker, an SSH host, a Dask worker, a Slurm job).
 *
 * Columnar, not a list of node objects: one array per field, with lanes,
 * electron names and statuses as indexes into small tables. 10k tasks come to
 * about 250 KB of JSON, 100k to 2.5 MB, and the browser reads the arrays
 * as they are (no per-node objects on either side).
 */
import type { DispatchRecord, NodeRecord } from "../engine/store/records.js";
import { STATUSES, type Status } from "../status.js";
import { dispatchView } from "./dashboard-views.js";

/** The reply. `i`-th entries of the arrays describe the `i`-th bar, in start order. */
export interface TimelineReply {
  readonly dispatch: ReturnType<typeof dispatchView>;
  /** The server's clock when it answered: where a running bar ends for now. */
  readonly now: number;
  /** Lane names; `lane[i]` indexes it, -1 for a node whose lane is unknown (run before lanes were recorded, or an executor that does not say). */
  readonly lanes: string[];
  /** Electron names (node names); `electron[i]` indexes it. */
  readonly electrons: string[];
  /** Status names; `status[i]` indexes it. */
  readonly statuses: readonly Status[];
  readonly nodeId: number[];
  readonly start: number[];
  /** null while the node runs. */
  readonly end: Array<number | null>;
  readonly lane: number[];
  readonly electron: number[];
  readonly status: number[];
}

const STATUS_CODE = new Map<Status, number>(STATUSES.map((s, i) => [s, i]));

export function timelineReply(d: DispatchRecord, nodes: readonly NodeRecord[], now: number = Date.now()): TimelineReply {
  const started: NodeRecord[] = [];
  for (const n of nodes) if (n.startedAt !== null) started.push(n);
  // Start order (then node id): lanes and electrons are numbered as they first appear.
  started.sort((a, b) => (a.startedAt as number) - (b.startedAt as number) || a.nodeId - b.nodeId);
  const laneIndex = new Map<string, number>();
  const electronIndex = new Map<string, number>();
  const reply = {
    dispatch: dispatchView(d),
    now,
    lanes: [] as string[],
    electrons: [] as string[],
    statuses: STATUSES,
    nodeId: new Array<number>(started.length),
    start: new Array<number>(started.length),
    end: new Array<number | null>(started.length),
    lane: new Array<number>(started.length),
    electron: new Array<number>(started.length),
    status: new Array<number>(started.length),
  };
  for (let i = 0; i < started.length; i++) {
    const n = started[i] as NodeRecord;
    let lane = -1;
    if (n.lane !== null) {
      lane = laneIndex.get(n.lane) ?? -1;
      if (lane < 0) {
        lane = reply.lanes.push(n.lane) - 1;
        laneIndex.set(n.lane, lane);
      }
    }
    let electron = electronIndex.get(n.name);
    if (electron === undefined) {
      electron = reply.electrons.push(n.name) - 1;
      electronIndex.set(n.name, electron);
    }
    reply.nodeId[i] = n.nodeId;
    reply.start[i] = n.startedAt as number;
    // A node that is not running any more but has no end (a status set without one) ends where it started.
    reply.end[i] = n.endedAt ?? (n.status === "RUNNING" ? null : (n.startedAt as number));
    reply.lane[i] = lane;
    reply.electron[i] = electron;
    reply.status[i] = STATUS_CODE.get(n.status) ?? 0;
  }
  return reply;
}
