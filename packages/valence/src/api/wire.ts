/**
 * The HTTP API's bodies, shared by the server and its client. Values stay in
 * the codec's encoding end to end: the server never decodes a user's value.
 */
import type { DispatchRecord, EdgeRecord, NodeRecord } from "../engine/store/records.js";

export const API_PREFIX = "/api/v1";

/** Encoded values longer than this travel as streamed blob uploads (`PUT /blobs/:sha256`), not inside JSON. */
export const BLOB_THRESHOLD_BYTES = 256 * 1024;

/** A node as the client traced it; the server fills in status and timings. */
export type SubmittedNode = Pick<
  NodeRecord,
  "nodeId" | "kind" | "name" | "electronId" | "executor" | "retries" | "timeoutMs" | "key" | "holes" | "value" | "output"
> & {
  /** JSON of the node's RetryPolicy (backoff, which errors retry); absent or null: retries at once. */
  readonly retryPolicy?: string | null;
  /** JSON of the electron's CachePolicy (results reused across dispatches); absent or null: it does not cache. */
  readonly cachePolicy?: string | null;
  /** A large parameter value: the sha256 of the uploaded blob holding its encoding (then `output` is null). */
  readonly outputBlob?: string;
};

/** `POST /dispatches`: a traced lattice call. The bundle is uploaded first (`PUT /bundles/:hash`). */
export interface SubmitBody {
  readonly name: string;
  readonly latticeId: string | null;
  readonly entryFile: string | null;
  /** Where the client ran: the runner works there, so relative paths mean what they meant. */
  readonly cwd: string;
  /** Encoded positional arguments ("" when they were uploaded as `inputsBlob`). */
  readonly inputs: string;
  /** Large arguments: the sha256 of the uploaded blob holding their encoding. */
  readonly inputsBlob?: string;
  /** Encoded OutputTemplate. */
  readonly outputTemplate: string;
  /** sha256 of the code bundle, or null when the graph has no electrons. */
  readonly bundleHash: string | null;
  readonly nodes: readonly SubmittedNode[];
  readonly edges: readonly EdgeRecord[];
  /** Each electron's source text by electron id, for people to read (the dashboard). */
  readonly sources?: Readonly<Record<string, string>>;
}

export interface SubmitReply {
  readonly dispatchId: string;
}

/** `POST /dispatches/:id/redispatch`: run a finished dispatch's graph again. */
export interface RedispatchBody {
  readonly reusePreviousResults: boolean;
  /** New code for electrons, by name; each bundle is uploaded first. */
  readonly replaceElectrons: ReadonlyArray<{
    readonly name: string;
    readonly electronId: string;
    readonly bundleHash: string | null;
    /** JSON executor of the replacement, or null to keep each node's. */
    readonly executor: string | null;
    /** Its source text, for the dashboard. */
    readonly source?: string;
  }>;
}

/** `GET /dispatches/:id/result`: records with every node's output inline. */
export interface ResultReply {
  readonly dispatch: DispatchRecord;
  readonly nodes: readonly NodeRecord[];
}

/** One row of `GET /dispatches`. */
export type DispatchSummary = Pick<
  DispatchRecord,
  "id" | "parentId" | "name" | "status" | "createdAt" | "startedAt" | "endedAt" | "nodeCount" | "nodesDone"
>;

export interface ListReply {
  readonly dispatches: readonly DispatchSummary[];
}

export interface HealthReply {
  readonly ok: true;
  readonly version: string;
  readonly pid: number;
  readonly startedAt: number;
  readonly dataDir: string;
  /** Dispatches with a live runner. */
  readonly running: number;
  /** Where its dispatches are stored: "sqlite", or the Postgres URL with its password masked. */
  readonly store?: string;
  /** A team server's fellow servers (itself included), by URL; absent for a server on its own. */
  readonly team?: readonly string[];
}

/** Every error reply: a stable code and a message that says what to fix. */
export interface ErrorReply {
  readonly error: { readonly code: string; readonly message: string };
}

/**
 * `POST /triggers`: attach a lattice to a watch, an interval or a cron schedule. `template` is
 * the dispatch each fire stores: the lattice as one sublattice node fed by a parameter node
 * (whose value the server sets to the fire's argument), traced by the client like a dispatch,
 * its bundle uploaded first. The lattice itself is traced at each fire, in a runner, from
 * the bundle: the server runs no user code.
 */
export interface TriggerBody {
  readonly spec: { readonly watch: string } | { readonly every: string | number } | { readonly cron: string; readonly timezone?: string };
  readonly latticeName: string;
  readonly latticeId: string;
  /** Whether the lattice takes the fire's argument; false: it takes none. */
  readonly withArg: boolean;
  readonly template: SubmitBody;
}

/** One trigger, as `GET /triggers` and `GET /triggers/:id` show it. */
export interface TriggerSummary {
  readonly id: string;
  readonly latticeName: string;
  readonly kind: "watch" | "every" | "cron";
  readonly spec: string;
  readonly timezone: string | null;
  readonly paused: boolean;
  readonly createdAt: number;
  readonly lastFireAt: number | null;
  /** When an interval or cron trigger fires next (null: paused, a watch, or never again). */
  readonly nextFireAt: number | null;
}

/** A fire of a trigger and the dispatch it made (its status, when it is still stored). */
export interface TriggerFireSummary {
  readonly key: string;
  readonly at: number;
  readonly dispatchId: string;
  /** null: the dispatch has been deleted or purged since. */
  readonly status: string | null;
}

export interface TriggerListReply {
  readonly triggers: readonly TriggerSummary[];
}

export interface TriggerReply {
  readonly trigger: TriggerSummary;
  /** Newest first. */
  readonly fires: readonly TriggerFireSummary[];
}

/** `GET /dispatches/:id/trigger`: the trigger whose fire made the dispatch, and that fire; nulls for a dispatch no trigger made. */
export interface DispatchTriggerReply {
  readonly trigger: TriggerSummary | null;
  readonly fire: TriggerFireSummary | null;
}
