/**
 * The sizes React Flow measured for a graph's nodes, handed back on every new node object.
 *
 * The graphs pass React Flow controlled nodes and make a new object whenever a node's data
 * changes (counts, status, a new layout). A node object without `measured` tells React Flow the
 * node was re-initialised, so it forgets where the node's handles are and draws none of its edges
 * until a ResizeObserver reports the node again; when a second new object came before that
 * report was applied, the report never came and the edge was never drawn. With the measured size
 * on each new object, React Flow keeps the handles it found.
 */
import { useCallback, useRef } from "react";
import type { NodeChange, Node } from "@xyflow/react";

export type Measured = { readonly width: number; readonly height: number };

export interface MeasuredSizes {
  /** The last size React Flow reported for node `id`, if it has measured it. */
  readonly of: (id: string) => Measured | undefined;
  /** Feed React Flow's node changes here: its `dimensions` changes are kept. */
  readonly record: <N extends Node>(changes: readonly NodeChange<N>[]) => void;
}

export function useMeasuredSizes(): MeasuredSizes {
  const sizes = useRef(new Map<string, Measured>());
  const of = useCallback((id: string) => sizes.current.get(id), []);
  const record = useCallback(<N extends Node>(changes: readonly NodeChange<N>[]) => {
    for (const c of changes) if (c.type === "dimensions" && c.dimensions) sizes.current.set(c.id, c.dimensions);
  }, []);
  return useRef({ of, record }).current;
}
