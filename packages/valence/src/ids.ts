/**
 * Ids carry their kind in the type, so a `NodeId` cannot be passed where a
 * `DispatchId` is wanted. Dispatch ids are prefixed strings (`dsp_…`) so they
 * read well in logs and URLs; node ids are Covalent's small integers.
 */
declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

export type DispatchId = Brand<string, "DispatchId">;
export type NodeId = Brand<number, "NodeId">;
/** Stable id of an electron definition, the same in every process that loads the bundle. */
export type ElectronId = Brand<string, "ElectronId">;

/** A result-cache key: the sha256 (hex) of a task's code, set-up and encoded inputs (engine/run/result-cache.ts). */
export type CacheKey = Brand<string, "CacheKey">;
export const asCacheKey = (s: string): CacheKey => s as CacheKey;

/** A server's id in a cluster of servers sharing one database: random, made once per server start. */
export type ServerId = Brand<string, "ServerId">;

export const asNodeId = (n: number): NodeId => n as NodeId;

/** `n` random base-36 characters. */
const randomChars = (n: number): string => Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => (b % 36).toString(36)).join("");

/** `prefix_`, a time-ordered part (base-36 ms), then `random` random characters: sorts by creation, collides never in practice. */
const timeOrdered = (prefix: string, random: number): string => `${prefix}_${Date.now().toString(36).padStart(9, "0")}${randomChars(random)}`;

export function newServerId(): ServerId {
  return `srv_${randomChars(10)}` as ServerId;
}
export const asElectronId = (s: string): ElectronId => s as ElectronId;

const DISPATCH_ID = /^dsp_[0-9a-z]{6,40}$/;

export function newDispatchId(): DispatchId {
  return timeOrdered("dsp", 8) as DispatchId;
}

export function isDispatchId(s: string): s is DispatchId {
  return DISPATCH_ID.test(s);
}

/** A trigger kept by a server (a directory watch, an interval or a cron schedule that dispatches a lattice). */
export type TriggerId = Brand<string, "TriggerId">;

const TRIGGER_ID = /^trg_[0-9a-z]{6,40}$/;

export function newTriggerId(): TriggerId {
  return timeOrdered("trg", 6) as TriggerId;
}

export function isTriggerId(s: string): s is TriggerId {
  return TRIGGER_ID.test(s);
}
