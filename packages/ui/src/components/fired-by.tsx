/** "Fired by": on the page of a dispatch a trigger's fire made, the trigger and what fired it (the file, or the tick). */
import { useEffect, useState } from "react";
import { api, type TriggerFire, type TriggerView } from "../api";
import { Link } from "../router";

export function FiredBy({ dispatchId }: { dispatchId: string }) {
  const [by, setBy] = useState<{ trigger: TriggerView; fire: TriggerFire }>();
  useEffect(() => {
    let live = true;
    // Most dispatches were not fired by a trigger: nothing is shown, and a failed look is not worth an error box.
    api.firedBy(dispatchId).then(
      (r) => live && r.trigger && r.fire && setBy({ trigger: r.trigger, fire: r.fire }),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [dispatchId]);
  if (!by) return null;
  const { trigger, fire } = by;
  const what = trigger.kind === "watch" ? fire.key.slice(fire.key.indexOf(":") + 1) : `the tick of ${fire.key}`;
  return (
    <div data-testid="fired-by">
      <dt>Fired by</dt>
      <dd>
        <Link to={`/triggers/${trigger.id}`}>{trigger.kind === "watch" ? "watch" : trigger.kind === "every" ? `every ${trigger.spec}` : `cron ${trigger.spec}`}</Link>{" "}
        <span className="mono muted clip" title={what}>
          {what}
        </span>
      </dd>
    </div>
  );
}
