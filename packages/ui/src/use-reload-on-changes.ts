/** A page that shows many dispatches reloads on the server's stream of every change. */
import { useEffect, useRef } from "react";
import { follow } from "./api";

/**
 * Calls `load` (the latest one given) after any change of any dispatch, at most once per
 * `ms`, for as long as the page is open; `onLive` hears whether the stream is connected.
 */
export function useReloadOnChanges(load: () => Promise<void>, ms: number, onLive?: (live: boolean) => void): void {
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    const ctl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    follow(
      "/events",
      (event) => {
        if (event !== "change") return;
        timer ??= setTimeout(() => {
          timer = undefined;
          void loadRef.current();
        }, ms);
      },
      ctl.signal,
      onLive,
    );
    return () => {
      ctl.abort();
      if (timer) clearTimeout(timer);
    };
  }, []);
}
