/** The effective configuration, read-only, as `valence config` prints it. */
import { useEffect, useState } from "react";
import { api } from "../api";
import { ErrorBox } from "../components/common";

export function ConfigPage() {
  const [config, setConfig] = useState<{ text: string | null; error: string | null }>();
  const [health, setHealth] = useState<{ version: string; dataDir: string; running: number }>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    api.config().then(setConfig, setError);
    api.health().then(setHealth, setError);
  }, []);
  return (
    <main className="page">
      <h1>Configuration</h1>
      <p className="muted">
        What this server runs with: defaults, overridden by the config file, overridden by <code>VALENCE_*</code> variables. Secrets are masked.
        Change it in the file and restart the server.
      </p>
      <ErrorBox error={error} />
      {health && (
        <dl className="facts">
          <div>
            <dt>Server version</dt>
            <dd>{health.version}</dd>
          </div>
          <div>
            <dt>Data dir</dt>
            <dd className="mono">{health.dataDir}</dd>
          </div>
          <div>
            <dt>Dispatches running</dt>
            <dd>{health.running}</dd>
          </div>
        </dl>
      )}
      {config?.error && <div className="error">{config.error}</div>}
      {config?.text && (
        <pre className="code" data-testid="config" tabIndex={0}>
          {config.text}
        </pre>
      )}
    </main>
  );
}
