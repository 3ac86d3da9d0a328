/** A dispatch named in a request path, or the 404 that says what is wrong with the name. */
import { DispatchNotFoundError } from "../errors.js";
import { isDispatchId, type DispatchId } from "../ids.js";
import type { DispatchRecord } from "../engine/store/records.js";
import type { Store } from "../engine/store/store.js";
import { NotFoundError } from "./http-errors.js";

export async function dispatchOf(store: Store, id: string): Promise<DispatchRecord> {
  if (!isDispatchId(id)) throw new NotFoundError(`"${id}" is not a dispatch id (they look like dsp_…)`);
  const d = await store.getDispatch(id as DispatchId);
  if (!d) throw new DispatchNotFoundError(id, store.dataDir);
  return d;
}
