/**
 * `/api/v1/triggers`: register, list, show (with the dispatches its fires made), pause, resume
 * and remove the server's triggers. Thin: the body is checked by its schema here, the rest by
 * the TriggerService.
 */
import { Hono, type MiddlewareHandler } from "hono";
import type { DispatchTriggerReply, TriggerFireSummary, TriggerListReply, TriggerReply } from "../../api/wire.js";
import { dispatchOf } from "../dispatch-of.js";
import type { Store } from "../../engine/store/store.js";
import type { TriggerRecord } from "../../engine/store/triggers.js";
import { intQuery, jsonBody, parse } from "../request.js";
import { triggerSchema } from "../schemas.js";
import type { TriggerService } from "./trigger-service.js";

export function triggerRoutes(service: TriggerService, store: Store, jsonLimit: MiddlewareHandler): Hono {
  const r = new Hono();

  const withFires = async (t: TriggerRecord, limit: number): Promise<TriggerReply> => {
    const fires: TriggerFireSummary[] = [];
    for (const f of await store.triggers.fires(t.id, limit)) {
      const d = await store.getDispatch(f.dispatchId);
      fires.push({ key: f.key, at: f.at, dispatchId: f.dispatchId, status: d?.status ?? null });
    }
    return { trigger: service.summary(t), fires };
  };

  r.post("/", jsonLimit, async (c) => {
    const body = parse(triggerSchema, await jsonBody(c));
    const t = await service.add(body);
    return c.json<TriggerReply>({ trigger: service.summary(t), fires: [] }, 201);
  });

  r.get("/", async (c) => c.json<TriggerListReply>({ triggers: (await store.triggers.list()).map((t) => service.summary(t)) }));

  r.get("/:id", async (c) => {
    const limit = intQuery(c.req.query("limit"), "limit", 50, 1, 1000);
    return c.json<TriggerReply>(await withFires(await service.get(c.req.param("id")), limit));
  });

  r.post("/:id/pause", async (c) => c.json<TriggerReply>(await withFires(await service.setPaused(c.req.param("id"), true), 50)));
  r.post("/:id/resume", async (c) => c.json<TriggerReply>(await withFires(await service.setPaused(c.req.param("id"), false), 50)));

  r.delete("/:id", async (c) => {
    const t = await service.remove(c.req.param("id"));
    return c.json({ removed: t.id });
  });

  return r;
}

/** `GET /dispatches/:id/trigger`: which trigger's fire made the dispatch (nulls, not a 404, for one no trigger made: most). */
export function dispatchTriggerRoute(api: Hono, service: TriggerService, store: Store): void {
  api.get("/dispatches/:id/trigger", async (c) => {
    const d = await dispatchOf(store, c.req.param("id"));
    const f = await store.triggers.fireOf(d.id);
    const t = f && (await store.triggers.get(f.triggerId));
    if (!f || !t) return c.json<DispatchTriggerReply>({ trigger: null, fire: null });
    return c.json<DispatchTriggerReply>({ trigger: service.summary(t), fire: { key: f.key, at: f.at, dispatchId: f.dispatchId, status: d.status } });
  });
}
