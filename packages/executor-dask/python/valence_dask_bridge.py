"""Valence's bridge to a Dask cluster.

One process per scheduler address per Valence dispatcher. It holds one
asynchronous `distributed.Client` and speaks JSON lines on stdin/stdout:

  request   {"id": 1, "op": "put" | "submit" | "cancel", ...}
  response  {"id": 1, "ok": true, ...} | {"id": 1, "ok": false, "error": "..."}
  event     {"event": "ready" | "fatal" | "done" | "failed" | "cancelled", ...}

Requests are handled concurrently, so responses may come out of order. When a
task's future settles, a "done" event carries its result, so the dispatcher
learns of it at once and needs no second round trip.

Workers need no shared file system with the dispatcher: the runner and the
code bundle are scattered once per content hash (broadcast to every worker),
and the task function writes them under its work directory, by hash.

Usage: python3 valence_dask_bridge.py SCHEDULER_ADDRESS CONNECT_TIMEOUT_SECONDS
Standard library and `distributed` only. The bridge exits when stdin closes.
"""

import asyncio
import json
import os
import sys
import time

# Protocol lines go to a private copy of stdout; anything a library prints goes to stderr.
_out = os.fdopen(os.dup(1), "wb")
os.dup2(2, 1)
sys.stdout = sys.stderr

# Scattered shared files (runner, bundles) kept per hash; older ones are released past this.
MAX_SHARED = 16
# A task.json larger than this travels as scattered data, not inside the task graph.
SCATTER_TASK_JSON = 256 * 1024


def emit(message):
    _out.write(json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n")
    _out.flush()


def describe(error):
    return f"{type(error).__name__}: {error}"


# --- What runs on a Dask worker ---------------------------------------------
# These functions are pickled by value (this file is __main__), so they import
# what they use and keep no module state: per-worker state lives on the Worker.


def _worker_state(worker):
    """Per-worker registry of running node processes, with a thread that reaps the unwanted.
    Versioned: a long-lived worker may meet bridges of several Valence releases."""
    import threading

    # dict.setdefault is atomic: the first tasks on a worker agree on one lock.
    with worker.__dict__.setdefault("_valence_v1_lock", threading.Lock()):
        state = worker.__dict__.get("_valence_v1")
        if state is None:
            state = {"lock": threading.Lock(), "procs": {}}
            threading.Thread(target=_reaper, args=(worker, state), name="valence-reaper", daemon=True).start()
            worker.__dict__["_valence_v1"] = state
    return state


def _reaper(worker, state):
    """Kills the process of any task the worker no longer wants: cancelled, its client (the
    bridge, the dispatcher) gone, or the worker closing. `kill_task` is the fast path for a
    cancel; this is the safety net."""
    import os
    import signal
    import time

    while True:
        time.sleep(0.25)
        with state["lock"]:
            procs = list(state["procs"].items())
        tasks = getattr(worker, "state", worker).tasks
        closing = getattr(worker.status, "name", str(worker.status)) in ("closing", "closed", "failed")
        for key, proc in procs:
            ts = tasks.get(key)
            unwanted = closing or ts is None or ts.state not in ("executing", "long-running")
            if unwanted and proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def run_task(spec, runner, bundle, task_json):
    """Runs one task package with node; returns {resultJson, stderrTail, exitCode[, error]}."""
    import os
    import shutil
    import subprocess
    import tempfile
    import uuid

    from distributed import get_worker

    worker = get_worker()
    state = _worker_state(worker)
    key = spec["key"]
    workdir = spec.get("workdir")
    if workdir:
        workdir = os.path.expanduser(workdir)
    else:
        base = getattr(worker, "local_directory", None) or tempfile.gettempdir()
        workdir = os.path.join(base, "valence")

    def put(rel, data):
        # By content hash: present means complete, thanks to the atomic rename.
        path = os.path.join(workdir, rel)
        if os.path.exists(path):
            return
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)

    def tail(path, limit=4000):
        try:
            with open(path, "rb") as f:
                f.seek(0, 2)
                f.seek(max(0, f.tell() - limit))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    task_dir = os.path.join(workdir, spec["taskDir"])
    put(spec["runnerRel"], runner)
    put(spec["bundleRel"], bundle)
    os.makedirs(task_dir, exist_ok=True)
    with open(os.path.join(task_dir, "task.json"), "wb") as f:
        f.write(task_json if isinstance(task_json, bytes) else task_json.encode("utf-8"))

    try:
        with open(os.path.join(task_dir, "stdout.log"), "wb") as out, open(
            os.path.join(task_dir, "stderr.log"), "wb"
        ) as err:
            try:
                # Its own session (process group), so a cancel kills node and anything it started.
                proc = subprocess.Popen(
                    [spec["nodePath"], spec["runnerRel"], spec["taskDir"]],
                    cwd=workdir,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,
                )
            except OSError as e:
                return {
                    "resultJson": None,
                    "stderrTail": "",
                    "exitCode": None,
                    "error": f"cannot start node ({spec['nodePath']!r}) on worker {worker.address}: {e};"
                    " install node on the workers or set the executor's nodePath option",
                }
        with state["lock"]:
            state["procs"][key] = proc
        code = proc.wait()
        with state["lock"]:
            state["procs"].pop(key, None)
        try:
            with open(os.path.join(task_dir, "result.json"), "rb") as f:
                result_json = f.read().decode("utf-8")
        except FileNotFoundError:
            result_json = None
        return {"resultJson": result_json, "stderrTail": tail(os.path.join(task_dir, "stderr.log")), "exitCode": code}
    finally:
        shutil.rmtree(task_dir, ignore_errors=True)


def kill_task(key, dask_worker=None):
    """Run on every worker by `Client.run` (outside the task threads): kills the task's process group."""
    import os
    import signal

    state = _worker_state(dask_worker)
    with state["lock"]:
        proc = state["procs"].get(key)
    if proc is None or proc.poll() is not None:
        return False
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


# --- The bridge --------------------------------------------------------------


class Bridge:
    def __init__(self, client):
        self.client = client
        self.shared = {}  # hash -> asyncio.Task resolving to a scattered Future
        self.futures = {}  # task key -> distributed Future
        self.cancelling = set()  # keys cancelled on request, as opposed to lost
        self.watchers = set()  # asyncio keeps only weak references to tasks

    async def share(self, file):
        """The scattered contents of a shared file, sent to the workers once per hash."""
        task = self.shared.pop(file["hash"], None)
        if task is None:
            task = asyncio.ensure_future(self._scatter(file["path"]))
        self.shared[file["hash"]] = task  # most recently used last
        while len(self.shared) > MAX_SHARED:
            # Tasks already submitted keep their data alive on the scheduler's side.
            del self.shared[next(iter(self.shared))]
        try:
            return await task
        except BaseException:
            if self.shared.get(file["hash"]) is task:
                del self.shared[file["hash"]]
            raise

    async def _scatter(self, path):
        with open(path, "rb") as f:
            data = f.read()
        return await self.client.scatter(data, broadcast=True, hash=False)

    async def op_put(self, req):
        await asyncio.gather(*(self.share(f) for f in req["files"]))
        return {}

    async def op_submit(self, req):
        import distributed

        key = req["key"]
        runner, bundle = await asyncio.gather(self.share(req["runner"]), self.share(req["bundle"]))
        task_json = req["taskJson"].encode("utf-8")
        if len(task_json) > SCATTER_TASK_JSON:
            task_json = await self.client.scatter(task_json, hash=False)
        spec = {
            "key": key,
            "taskDir": req["taskDir"],
            "runnerRel": req["runner"]["relPath"],
            "bundleRel": req["bundle"]["relPath"],
            "nodePath": req["nodePath"],
            "workdir": req.get("workdir"),
        }
        future = self.client.submit(run_task, spec, runner, bundle, task_json, key=key, pure=False)
        self.futures[key] = future
        watcher = asyncio.ensure_future(self.watch(key, future, distributed))
        self.watchers.add(watcher)
        watcher.add_done_callback(self.watchers.discard)
        return {}

    async def watch(self, key, future, distributed):
        try:
            result = await future
            emit({"event": "done", "key": key, "result": result})
        except (asyncio.CancelledError, distributed.utils.CancelledError):
            if key in self.cancelling:
                emit({"event": "cancelled", "key": key})
            elif self.client.status != "running":
                emit({"event": "failed", "key": key, "reason": "the connection to the Dask scheduler was lost"})
            else:
                emit({"event": "failed", "key": key, "reason": "its future was cancelled outside Valence"})
        except Exception as e:
            emit({"event": "failed", "key": key, "reason": describe(e)})
        finally:
            self.futures.pop(key, None)
            self.cancelling.discard(key)

    async def op_cancel(self, req):
        key = req["key"]
        killed = await self.cancel([key])
        return {"killed": killed}

    async def cancel(self, keys):
        keys = [k for k in keys if k in self.futures]  # the others have ended already
        futures = [self.futures[k] for k in keys]
        self.cancelling.update(keys)
        kills = [self.client.run(kill_task, k, on_error="ignore") for k in keys]
        results = await asyncio.wait_for(
            asyncio.gather(self.client.cancel(futures, force=True), *kills, return_exceptions=True), 10
        )
        return any(isinstance(r, dict) and any(v is True for v in r.values()) for r in results[1:])

    async def handle(self, req):
        try:
            op = getattr(self, "op_" + str(req.get("op")), None)
            if op is None:
                raise ValueError(f"unknown op {req.get('op')!r}")
            emit({"id": req["id"], "ok": True, **(await op(req))})
        except Exception as e:
            emit({"id": req.get("id"), "ok": False, "error": describe(e)})


async def read_lines():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 30)  # a task.json may be megabytes
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            return
        yield line


async def serve(bridge):
    pending = set()
    async for line in read_lines():
        try:
            req = json.loads(line)
        except ValueError as e:
            emit({"id": None, "ok": False, "error": f"bad request line: {e}"})
            continue
        t = asyncio.ensure_future(bridge.handle(req))
        pending.add(t)
        t.add_done_callback(pending.discard)


async def client_closed(client):
    # The client gives up on a lost scheduler after its timeout and closes itself.
    while client.status not in ("closing", "closed", "failed"):
        await asyncio.sleep(0.5)


async def main(address, timeout):
    try:
        import distributed
    except Exception as e:
        emit({"event": "fatal", "kind": "import", "message": describe(e), "python": sys.executable})
        sys.exit(3)
    started = time.monotonic()
    try:
        client = await distributed.Client(
            address, asynchronous=True, timeout=timeout, set_as_default=False, name="valence-dask-bridge"
        )
    except Exception as e:
        emit({"event": "fatal", "kind": "connect", "message": describe(e), "seconds": time.monotonic() - started})
        sys.exit(4)
    bridge = Bridge(client)
    workers = len(client.scheduler_info().get("workers", {}))
    emit({"event": "ready", "distributed": distributed.__version__, "workers": workers, "python": sys.version.split()[0]})
    requests = asyncio.ensure_future(serve(bridge))
    lost = asyncio.ensure_future(client_closed(client))
    await asyncio.wait([requests, lost], return_when=asyncio.FIRST_COMPLETED)
    if lost.done():
        # Futures cannot come back from a closed client: leave, so the dispatcher starts a new bridge.
        print(f"valence bridge: lost the Dask scheduler at {address} and could not reconnect", file=sys.stderr)
        sys.exit(5)
    # stdin closed: the dispatcher is gone or done. Stop whatever still runs, then leave.
    if bridge.futures:
        try:
            await bridge.cancel(list(bridge.futures))
        except Exception:
            pass
    await client.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 10.0))
