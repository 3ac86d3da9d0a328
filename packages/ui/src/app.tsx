/** The shell: header and navigation, then the page the path names. */
import { useEffect, useState } from "react";
import { api } from "./api";
import { Link, useLocation } from "./router";
import { DispatchList } from "./pages/dispatch-list";
import { DispatchPage } from "./pages/dispatch-page";
import { LogPage } from "./pages/log-page";
import { ConfigPage } from "./pages/config-page";
import { TriggersPage } from "./pages/triggers-page";

export function App() {
  const { path } = useLocation();
  const [version, setVersion] = useState<string>();
  useEffect(() => {
    api.health().then((h) => setVersion(h.version), () => undefined);
  }, []);
  const dispatch = /^\/dispatches\/(dsp_[0-9a-z]+)\/?$/.exec(path);
  const trigger = /^\/triggers(?:\/(trg_[0-9a-z]+))?\/?$/.exec(path);
  const page = dispatch?.[1] ? (
    <DispatchPage key={dispatch[1]} id={dispatch[1]} />
  ) : trigger ? (
    <TriggersPage id={trigger[1]} />
  ) : path === "/log" ? (
    <LogPage />
  ) : path === "/config" ? (
    <ConfigPage />
  ) : path === "/" || path === "/dispatches" ? (
    <DispatchList />
  ) : (
    <main className="page">
      <h1>Not found</h1>
      <p>
        Nothing lives at <code>{path}</code>. <Link to="/">Back to the dispatches</Link>.
      </p>
    </main>
  );
  const current = (p: string) => (p === "/" ? path === "/" || path.startsWith("/dispatches") : path === p || path.startsWith(`${p}/`)) ? "page" : undefined;
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/" className="brand">
          <span className="logo" aria-hidden="true" />
          Valence
        </Link>
        <nav aria-label="Main">
          <Link to="/" aria-current={current("/")}>
            Dispatches
          </Link>
          <Link to="/triggers" aria-current={current("/triggers")}>
            Triggers
          </Link>
          <Link to="/log" aria-current={current("/log")}>
            Server log
          </Link>
          <Link to="/config" aria-current={current("/config")}>
            Config
          </Link>
        </nav>
        <span className="muted version">{version ? `v${version}` : ""}</span>
      </header>
      <div id="main" className="main">
        {page}
      </div>
    </>
  );
}
