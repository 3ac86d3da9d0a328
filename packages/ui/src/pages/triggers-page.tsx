/** The server's triggers (watches, intervals, cron schedules) and, for the one chosen, the dispatches its fires made. */
import { useCallback, useEffect, useRef, useState } from "react";
import { useReloadOnChanges } from "../use-reload-on-changes";
import { api, type TriggerReply, type TriggerView } from "../api";
import { Confirm, ErrorBox, StatusBadge } from "../components/common";
import { formatTime } from "../format";
import { Link, navigate } from "../router";

const KIND: Record<TriggerView["kind"], string> = { watch: "Directory watch", every: "Interval", cron: "Cron" };

const specText = (t: TriggerView) => (t.kind === "every" ? `every ${t.spec}` : t.timezone ? `${t.spec} (${t.timezone})` : t.spec);

export function TriggersPage({ id }: { id?: string | undefined }) {
  const [triggers, setTriggers] = useState<readonly TriggerView[]>();
  const [chosen, setChosen] = useState<TriggerReply>();
  const [error, setError] = useState<unknown>();
  /** The trigger whose removal is being confirmed. */
  const [removing, setRemoving] = useState<TriggerView | null>(null);

  const seq = useRef(0);
  const load = useCallback(async () => {
    const mine = ++seq.current;
    try {
      const [list, one] = await Promise.all([api.triggers(), id ? api.trigger(id) : Promise.resolve(undefined)]);
      if (mine !== seq.current) return;
      setTriggers(list.triggers);
      setChosen(one);
      setError(undefined);
    } catch (e) {
      if (mine === seq.current) setError(e);
    }
  }, [id]);

  useEffect(() => {
    void load();
  }, [load]);

  // A fire stores a dispatch, and every dispatch's change is on the server's stream: reload, a few times a second at most.
  useReloadOnChanges(load, 200);

  const toggle = async (t: TriggerView) => {
    try {
      await api.pauseTrigger(t.id, !t.paused);
      await load();
    } catch (e) {
      setError(e);
    }
  };

  const remove = async (t: TriggerView) => {
    setRemoving(null);
    try {
      await api.removeTrigger(t.id);
      if (t.id === id) navigate("/triggers");
      else await load();
    } catch (e) {
      setError(e);
    }
  };

  return (
    <main className="page">
      <div className="page-head">
        <h1>Triggers</h1>
      </div>
      <ErrorBox error={error} />
      <div className="table-wrap">
        <table className="table" aria-label="Triggers">
          <thead>
            <tr>
              <th scope="col">Lattice</th>
              <th scope="col">Kind</th>
              <th scope="col">Spec</th>
              <th scope="col">State</th>
              <th scope="col">Last fire</th>
              <th scope="col">Next fire</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {triggers?.map((t) => (
              <tr key={t.id} data-trigger={t.id} aria-selected={t.id === id} onClick={(e) => (e.target as HTMLElement).closest("a,button") || navigate(`/triggers/${t.id}`)}>
                <td className="name">
                  <Link to={`/triggers/${t.id}`}>{t.latticeName}</Link> <span className="mono muted">{t.id}</span>
                </td>
                <td>{KIND[t.kind]}</td>
                <td className="mono">{specText(t)}</td>
                <td data-testid="trigger-state">{t.paused ? "paused" : "running"}</td>
                <td>{t.lastFireAt === null ? "never" : formatTime(t.lastFireAt)}</td>
                <td>{t.nextFireAt === null ? (t.kind === "watch" && !t.paused ? "on the next file" : "—") : formatTime(t.nextFireAt)}</td>
                <td>
                  <button type="button" className="btn" onClick={() => void toggle(t)}>
                    {t.paused ? "Resume" : "Pause"}
                  </button>{" "}
                  <button type="button" className="btn danger" onClick={() => setRemoving(t)}>
                    Remove…
                  </button>
                </td>
              </tr>
            ))}
            {triggers && triggers.length === 0 && (
              <tr>
                <td colSpan={7} className="empty">
                  No triggers. Add one with <code>valence triggers add FILE --watch DIR</code> (or <code>--every 30s</code>, <code>--cron "*/5 * * * *"</code>), or{" "}
                  <code>trigger(lattice, {"{ watch: \"./inbox\" }"})</code> from a script.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      {chosen && (
        <section className="trigger-fires" aria-label={`Dispatches of trigger ${chosen.trigger.id}`}>
          <h2>
            Dispatches of {chosen.trigger.latticeName} <span className="mono muted">{chosen.trigger.id}</span>
          </h2>
          <div className="table-wrap">
            <table className="table" aria-label="Its dispatches, newest first">
              <thead>
                <tr>
                  <th scope="col">Status</th>
                  <th scope="col">Dispatch id</th>
                  <th scope="col">Fired</th>
                  <th scope="col">For</th>
                </tr>
              </thead>
              <tbody>
                {chosen.fires.map((f) => (
                  <tr key={f.key} data-fire={f.dispatchId}>
                    <td>{f.status ? <StatusBadge status={f.status} /> : <span className="muted">deleted</span>}</td>
                    <td className="mono">{f.status ? <Link to={`/dispatches/${f.dispatchId}`}>{f.dispatchId}</Link> : f.dispatchId}</td>
                    <td>{formatTime(f.at)}</td>
                    <td className="mono muted">{chosen.trigger.kind === "watch" ? f.key.slice(f.key.indexOf(":") + 1) : f.key}</td>
                  </tr>
                ))}
                {chosen.fires.length === 0 && (
                  <tr>
                    <td colSpan={4} className="empty">
                      It has not fired yet.
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>
        </section>
      )}
      <Confirm
        open={removing !== null}
        title="Remove this trigger?"
        confirmLabel="Remove trigger"
        danger
        onConfirm={() => removing && void remove(removing)}
        onClose={() => setRemoving(null)}
      >
        <p>
          {removing ? `${removing.latticeName} (${removing.id}) ` : ""}stops firing, here and on every server of the team. The dispatches it made stay.
        </p>
      </Confirm>
    </main>
  );
}
