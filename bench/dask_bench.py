#!/usr/bin/python3
"""Dask side of the Valence benchmark.

Run with Debian's interpreter (the one python3-dask/python3-distributed are
installed for; see bench/setup.sh):

    /usr/bin/python3 bench/dask_bench.py [--scenarios a,b,c] [--quick]

Prints exactly ONE JSON object on stdout; everything else (progress, Dask's
logs, anything a child process writes) goes to stderr. Times are wall-clock
seconds from graph submission to results in hand; graph construction,
cluster start-up and teardown are not timed. Each scenario is run 3 times
(1 with --quick) after a warm-up, and the median is reported. See
bench/README.md ("Dask side") for what each scenario does exactly.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time

# --- keep stdout for the JSON only ------------------------------------------
# Everything written to fd 1 (by us, by Dask, by spawned worker processes that
# inherit fd 1) is redirected to stderr; the JSON goes to a saved copy of the
# original stdout.
_JSON_OUT = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
sys.stdout = sys.stderr

_WORKDIRS = []  # temp dirs to remove even if the watchdog fires
_CLUSTERS = []  # clusters whose nannies the watchdog must stop from respawning

THREADED_CHUNKSIZE = 100  # tasks handed to a pool thread per dispatch (see README)

SCENARIOS = [
    "threaded_10k",
    "threaded_100k",
    "distributed_10k",
    "distributed_chain_1k",
    "distributed_submit_latency",
    "distributed_first_task",
]


def inc(x):
    return x + 1


def stamp(_i):
    """The moment the task's body starts on the worker (wall clock, comparable
    across the processes of this machine)."""
    return time.time()


def log(msg):
    print(f"[dask_bench] {msg}", file=sys.stderr, flush=True)


def measure(name, runs, once):
    """Call once(run_index) -> seconds, `runs` times; return (median, all)."""
    times = []
    for r in range(runs):
        t = once(r)
        times.append(t)
        log(f"{name} run {r + 1}/{runs}: {t:.4f} s")
    return statistics.median(times), times


# --- threaded scheduler -------------------------------------------------------

def wide_graph(n, prefix="inc"):
    dsk = {f"{prefix}-{i}": (inc, i) for i in range(n)}
    return dsk, list(dsk)


def threaded_wide(n, chunksize):
    import dask.threaded

    dsk, keys = wide_graph(n)
    expected = n * (n + 1) // 2

    def once(_r):
        t0 = time.perf_counter()
        results = dask.threaded.get(dsk, keys, chunksize=chunksize)
        t = time.perf_counter() - t0
        assert len(results) == n and sum(results) == expected, "wrong result"
        return t

    return once


def threaded_wide_delayed(n):
    """The common user path: dask.compute over a list of Delayed objects."""
    import dask
    from dask import delayed

    expected = n * (n + 1) // 2
    d_inc = delayed(inc, pure=True)
    values = [d_inc(i) for i in range(n)]

    def once(_r):
        t0 = time.perf_counter()
        results = dask.compute(*values, scheduler="threads")
        t = time.perf_counter() - t0
        assert sum(results) == expected, "wrong result"
        return t

    return once


def threaded_warmup():
    import dask.threaded

    dsk, keys = wide_graph(1000, "warm")
    dask.threaded.get(dsk, keys)
    dask.threaded.get(dsk, keys, chunksize=THREADED_CHUNKSIZE)


# --- distributed --------------------------------------------------------------

def wait_scheduler_empty(client, timeout=30.0):
    """After a run, wait until the scheduler has forgotten every task, so the
    next run starts from the same (empty) state and its keys never hit a
    result still held from the previous one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))
        if n == 0:
            return
        time.sleep(0.05)
    log(f"warning: scheduler still holds {n} tasks after {timeout}s")


def distributed_wide(client, n):
    expected = n * (n + 1) // 2

    def once(r):
        keys = [f"inc-r{r}-{i}" for i in range(n)]  # unique per run, no tokenizing
        t0 = time.perf_counter()
        futures = client.map(inc, range(n), key=keys)
        results = client.gather(futures)
        t = time.perf_counter() - t0
        assert sum(results) == expected, "wrong result"
        del futures, results
        wait_scheduler_empty(client)
        return t

    return once


def distributed_chain(client, n):
    def once(r):
        p = f"chain-r{r}"
        dsk = {f"{p}-0": (inc, 0)}
        for i in range(1, n):
            dsk[f"{p}-{i}"] = (inc, f"{p}-{i - 1}")
        last = f"{p}-{n - 1}"
        t0 = time.perf_counter()
        result = client.get(dsk, last)  # raw graph: no optimisation, no fusion
        t = time.perf_counter() - t0
        assert result == n, "wrong result"
        wait_scheduler_empty(client)
        return t

    return once


def distributed_submit_latency(client, n):
    """Returns the MEAN round trip per task (total / n) of n sequential
    client.submit(inc, i).result() calls."""

    def once(r):
        keys = [f"lat-r{r}-{i}" for i in range(n)]
        t0 = time.perf_counter()
        for i in range(n):
            assert client.submit(inc, i, key=keys[i]).result() == i + 1
        t = time.perf_counter() - t0
        wait_scheduler_empty(client)
        return t / n

    return once


def first_task_once(client, key):
    """Seconds from calling client.submit to the task's body starting."""
    t0 = time.time()
    started = client.submit(stamp, 0, key=key).result()
    return started - t0


def distributed_first_task(client, n):
    """Returns the MEDIAN over n sequential submits of (task body start -
    client.submit call), seconds."""

    def once(r):
        lat = [first_task_once(client, f"first-r{r}-{i}") for i in range(n)]
        wait_scheduler_empty(client)
        return statistics.median(lat)

    return once


def distributed_warmup(client):
    client.gather(client.map(inc, range(500), key=[f"warm-{i}" for i in range(500)]))
    dsk = {"warmc-0": (inc, 0)}
    for i in range(1, 20):
        dsk[f"warmc-{i}"] = (inc, f"warmc-{i - 1}")
    client.get(dsk, "warmc-19")
    for i in range(10):
        client.submit(inc, i, key=f"warms-{i}").result()
    wait_scheduler_empty(client)


# --- main -----------------------------------------------------------------------

def start_watchdog(seconds):
    """If the run hangs (e.g. a cluster that never comes up or never closes),
    kill the worker processes we spawned and exit non-zero."""

    def fire():
        log(f"watchdog: no result after {seconds}s, aborting")
        try:
            import psutil

            from multiprocessing import resource_tracker

            tracker_pid = getattr(resource_tracker._resource_tracker, "_pid", None)
            # A nanny respawns a killed worker unless it believes it is closing.
            from distributed.core import Status

            for cluster in _CLUSTERS:
                for nanny in list(getattr(cluster, "workers", {}).values()):
                    try:
                        nanny.status = Status.closing
                    except Exception:
                        pass
            # Repeat anyway until no child has been seen for 3 rounds.
            quiet_rounds = 0
            deadline = time.monotonic() + 10
            while quiet_rounds < 3 and time.monotonic() < deadline:
                children = [c for c in psutil.Process().children(recursive=True)
                            if c.pid != tracker_pid]
                for child in children:
                    try:
                        child.kill()
                    except psutil.Error:
                        pass
                psutil.wait_procs(children, timeout=2)  # reap them: PID 1 may not
                quiet_rounds = 0 if children else quiet_rounds + 1
                if children:
                    log(f"watchdog: killed {[c.pid for c in children]}")
                time.sleep(0.2)
            if tracker_pid is not None:
                # The tracker exits once every holder of its pipe is gone; never
                # let waiting for it block the exit.
                stopper = threading.Thread(
                    target=resource_tracker._resource_tracker._stop, daemon=True)
                stopper.start()
                stopper.join(3)
        except Exception:
            pass
        for d in _WORKDIRS:
            shutil.rmtree(d, ignore_errors=True)
        os._exit(3)

    t = threading.Timer(seconds, fire)
    t.daemon = True
    t.start()
    return t


def reap_children():
    """Leave no process behind: stop multiprocessing's resource tracker (which
    would otherwise outlive us as an orphan zombie, PID 1 here does not reap)
    and report any other child still alive."""
    try:
        from multiprocessing import resource_tracker

        tracker = resource_tracker._resource_tracker
        if getattr(tracker, "_pid", None) is not None:
            tracker._stop()
    except Exception as e:
        log(f"resource tracker stop: {e!r}")
    try:
        import psutil

        left = psutil.Process().children(recursive=True)
        if left:
            log(f"warning: child processes still alive after close: {[c.pid for c in left]}")
    except Exception:
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenarios", default=",".join(SCENARIOS),
                    help="comma-separated subset of: " + ", ".join(SCENARIOS))
    ap.add_argument("--quick", action="store_true", help="1 run per scenario instead of 3")
    ap.add_argument("--variants", action="store_true",
                    help="also time reference variants of the threaded scenarios "
                         "(Dask's default chunksize=1, and dask.compute on delayed)")
    ap.add_argument("--timeout", type=float, default=900.0,
                    help="abort (exit 3) if the whole run takes longer (s)")
    args = ap.parse_args()

    wanted = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in SCENARIOS]
    if unknown:
        ap.error(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    runs = 1 if args.quick else 3
    watchdog = start_watchdog(args.timeout)
    # On SIGTERM/SIGINT unwind normally so the `finally` below closes the cluster.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: sys.exit(128 + signum))
    t_start = time.perf_counter()

    import dask
    import distributed

    # Flat on purpose: bench/run.ts reads the LAST stdout line as JSON and takes
    # each scenario's median as a number at the top level, and `version`.
    out = {
        "tool": "dask",
        "version": dask.__version__,
        "dask_version": dask.__version__,
        "distributed_version": distributed.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "mode": "quick" if args.quick else "full",
        "runs_per_scenario": runs,
        "statistic": "median",
        "unit": "seconds",
        "details": {},
        "variants": {},
    }

    def record(name, once, method, tasks, **extra):
        med, times = measure(name, runs, once)
        out[name] = round(med, 6)  # top-level: the median, in seconds
        out["details"][name] = {
            "median": round(med, 6),
            "runs": [round(t, 6) for t in times],
            "tasks": tasks,
            "method": method,
            **extra,
        }

    def variant(name, once, method):
        med, times = measure(name, runs, once)
        out["variants"][name] = {
            "median": round(med, 6),
            "runs": [round(t, 6) for t in times],
            "method": method,
        }

    # Threaded scheduler (no cluster running yet, so nothing else competes).
    threaded = [s for s in wanted if s.startswith("threaded_")]
    if threaded:
        threaded_warmup()
        for name in threaded:
            n = 10_000 if name == "threaded_10k" else 100_000
            record(
                name,
                threaded_wide(n, THREADED_CHUNKSIZE),
                "raw graph dict {key: (inc, i)}, dask.threaded.get(dsk, keys, "
                f"chunksize={THREADED_CHUNKSIZE}); default pool "
                f"({os.cpu_count()} threads); all {n} results returned",
                n,
            )
            if args.variants:
                variant(
                    f"{name}_chunksize1",
                    threaded_wide(n, 1),
                    "same raw graph, dask.threaded.get(dsk, keys) with Dask's "
                    "default chunksize=1 (one task per pool dispatch)",
                )
                variant(
                    f"{name}_delayed_compute",
                    threaded_wide_delayed(n),
                    "dask.compute(*[delayed(inc)(i) ...], scheduler='threads'), "
                    "default chunksize=1 (the usual user path)",
                )

    # Distributed LocalCluster.
    dist = [s for s in wanted if s.startswith("distributed_")]
    if dist:
        import logging

        # Dask at its best for tiny tasks: no scheduler-side queuing.
        # Must be set before the scheduler is created.
        dask.config.set({"distributed.scheduler.worker-saturation": "inf"})
        from distributed import Client, LocalCluster

        workdir = tempfile.mkdtemp(prefix="valence-dask-bench-")
        _WORKDIRS.append(workdir)
        cluster = client = None
        try:
            t0 = time.perf_counter()
            cluster = LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,  # no Bokeh dashboard / HTTP server
                silence_logs=logging.ERROR,
                local_directory=workdir,
            )
            _CLUSTERS.append(cluster)
            client = Client(cluster)
            client.wait_for_workers(2, timeout=60)
            out["cluster_startup_s"] = round(time.perf_counter() - t0, 3)
            out["cluster"] = {
                "kind": "distributed.LocalCluster",
                "n_workers": 2,
                "threads_per_worker": 1,
                "processes": True,
                "worker_saturation": str(
                    dask.config.get("distributed.scheduler.worker-saturation")),
                "work_stealing": dask.config.get("distributed.scheduler.work-stealing"),
                "scheduler": "in the client process (LocalCluster default)",
            }
            if "distributed_first_task" in dist:
                # The very first task on the new cluster, before any warm-up:
                # one sample per run of this script.
                cold = first_task_once(client, "first-cold")
                wait_scheduler_empty(client)
                out["distributed_first_task_cold"] = round(cold, 6)
                log(f"distributed_first_task_cold: {cold:.4f} s")
            log(f"LocalCluster up in {out['cluster_startup_s']} s; warming up")
            distributed_warmup(client)

            for name in dist:
                if name == "distributed_10k":
                    record(
                        name,
                        distributed_wide(client, 10_000),
                        "futures = client.map(inc, range(10000), key=<unique keys>); "
                        "client.gather(futures)",
                        10_000,
                    )
                elif name == "distributed_chain_1k":
                    record(
                        name,
                        distributed_chain(client, 1_000),
                        "raw graph {c0: (inc, 0), ci: (inc, c(i-1))}, "
                        "client.get(dsk, c999) (no fusion: 1000 separate tasks)",
                        1_000,
                    )
                elif name == "distributed_submit_latency":
                    n = 200
                    record(
                        name,
                        distributed_submit_latency(client, n),
                        f"mean over {n} sequential client.submit(inc, i, "
                        "key=<unique>).result() round trips (seconds per task)",
                        n,
                        per_task=True,
                    )
                elif name == "distributed_first_task":
                    n = 20
                    record(
                        name,
                        distributed_first_task(client, n),
                        f"median over {n} sequential submits of (time.time() at the "
                        "start of the task's body on the worker - time.time() just "
                        "before client.submit(stamp, 0, key=<unique>)); seconds",
                        n,
                        per_task=True,
                        cold=out.get("distributed_first_task_cold"),
                    )
        finally:
            t0 = time.perf_counter()
            if client is not None:
                try:
                    client.close(timeout=30)
                except Exception as e:  # keep going: the cluster must still close
                    log(f"client.close: {e!r}")
            if cluster is not None:
                try:
                    cluster.close(timeout=30)
                except Exception as e:
                    log(f"cluster.close: {e!r}")
            shutil.rmtree(workdir, ignore_errors=True)
            reap_children()
            log(f"LocalCluster closed in {time.perf_counter() - t0:.2f} s")

    # Metadata and scenario medians first, the bulky per-run details last.
    final = {k: v for k, v in out.items() if k not in ("details", "variants")}
    final["total_wall_s"] = round(time.perf_counter() - t_start, 3)
    final["details"] = out["details"]
    if out["variants"]:
        final["variants"] = out["variants"]
    watchdog.cancel()
    _JSON_OUT.write(json.dumps(final) + "\n")  # one line
    _JSON_OUT.flush()


if __name__ == "__main__":
    main()
