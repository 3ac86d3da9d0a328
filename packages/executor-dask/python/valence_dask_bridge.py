"""Valence's bridge to a Dask cluster.

One process per scheduler address per Valence dispatcher. It holds one
asynchronous `distributed.Client` and speaks JSON lines on stdin/stdout:

  request   {"id": 1, "op": "put" | "submit" | "cancel", ...}
  response  {"id": 1, "ok": true, ...} | {"id": 1, "ok": false, "error": "..."}
  event     {"event": "ready" | "fatal" | "done" | "failed" | "cancelled" | "output", ...}

Requests are handled concurrently, so responses may come out of order. When a
task's future settles, a "done" event carries its result, so the dispatcher
learns of it at once and needs no second round trip.

Live output: a task submitted with "live": true has what it prints relayed
while it runs, as {"event": "output", "key": KEY, "stream": "stdout" | "stderr",
"text": "..."}, any number of them before its "done" (and none after it: the
result carries the whole output, so a late or lost chunk costs nothing). The
worker running it logs each chunk as a Dask event (Worker.log_event) under the
topic named by this bridge's client id, to which the bridge subscribes: Dask's
own scheduler-to-client channel, so workers need no way back to the dispatcher,
and the scheduler drops a client's topic once that client has left (after
distributed.scheduler.events-cleanup-delay), so finished bridges leave nothing
behind. A task without "live" relays nothing.

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
#
# Two ways to run a task (the executor's `isolation` option):
#   "runner" (default)  a persistent `node RUNNER --serve` per worker thread and
#                       bundle, fed one task at a time over a pipe (one JSON line
#                       each way, see packages/valence/src/executor/wire/serve-protocol.ts);
#   "process"           a fresh `node RUNNER TASKDIR` per task, with task.json and
#                       result.json files (node's start and the bundle's import each time).

# An idle runner exits after this long.
RUNNER_IDLE_SECONDS = 60.0
# How long a closed runner may take to exit before its group is killed.
RUNNER_CLOSE_GRACE_SECONDS = 10.0
# How often a live task's output.jsonl is read, under isolation "process" (the runner itself
# hands output over at most every 200 ms, capture.ts's LIVE_MS).
OUTPUT_POLL_SECONDS = 0.25


def _worker_state(worker):
    """Per-worker registry of running node processes and persistent runners, with a thread
    that reaps the unwanted. Versioned: a long-lived worker may meet bridges of several
    Valence releases, and v1 (per-task processes only) had another shape.

      procs    task key -> the entry of the process running it: a per-task process, or the
               runner the task was sent to. {"proc": Popen, "killed": bool, ...}
      idle     runner pool key -> [runner], the runners waiting for a task
      runners  every live runner (busy or idle)
      closing  runners whose stdin was closed (or that were killed), until they have exited
    """
    import threading

    # dict.setdefault is atomic: the first tasks on a worker agree on one lock.
    with worker.__dict__.setdefault("_valence_v2_lock", threading.Lock()):
        state = worker.__dict__.get("_valence_v2")
        if state is None:
            state = {"lock": threading.Lock(), "procs": {}, "idle": {}, "runners": [], "closing": []}
            threading.Thread(target=_reaper, args=(worker, state), name="valence-reaper", daemon=True).start()
            worker.__dict__["_valence_v2"] = state
    return state


def _kill_entry(entry):
    """SIGKILLs the process group of `entry` (a per-task process or a runner). Call with the
    state's lock held: a runner is then never handed to another task between the lookup and
    the kill."""
    import os
    import signal

    if entry["proc"].poll() is not None:
        return False
    entry["killed"] = True
    try:
        os.killpg(entry["proc"].pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


def _retire_runner(state, runner):
    """Takes `runner` out of the pool and closes its stdin: it exits at once (serve.ts exits on
    EOF). The reaper waits for the exit and removes its log. Call with the state's lock held."""
    import time

    if runner in state["runners"]:
        state["runners"].remove(runner)
    idle = state["idle"].get(runner["pool"])
    if idle and runner in idle:
        idle.remove(runner)
    try:
        runner["proc"].stdin.close()
    except (OSError, ValueError):
        pass
    if runner not in state["closing"]:
        runner["closed_at"] = time.monotonic()
        state["closing"].append(runner)


def _reaper(worker, state):
    """Kills the process of any task the worker no longer wants: cancelled, its client (the
    bridge, the dispatcher) gone, or the worker closing. `kill_task` is the fast path for a
    cancel; this is the safety net. Also ends runners idle for RUNNER_IDLE_SECONDS, and every
    runner when the worker closes, and reaps runners that were closed."""
    import os
    import signal
    import time

    while True:
        time.sleep(0.25)
        tasks = getattr(worker, "state", worker).tasks
        status = getattr(worker.status, "name", str(worker.status))
        closing = status in ("closing", "closed", "failed")
        now = time.monotonic()
        with state["lock"]:
            for key, entry in list(state["procs"].items()):
                ts = tasks.get(key)
                if closing or ts is None or ts.state not in ("executing", "long-running"):
                    _kill_entry(entry)
            for pool in list(state["idle"].values()):
                for runner in list(pool):
                    if closing or now - runner["idle_since"] > RUNNER_IDLE_SECONDS or runner["proc"].poll() is not None:
                        _retire_runner(state, runner)
            if closing:
                for runner in list(state["runners"]):
                    _kill_entry(runner)
            for runner in list(state["closing"]):
                if runner["proc"].poll() is not None:
                    state["closing"].remove(runner)
                    try:
                        os.unlink(runner["log"])
                    except OSError:
                        pass
                elif now - runner["closed_at"] > RUNNER_CLOSE_GRACE_SECONDS:
                    try:
                        os.killpg(runner["proc"].pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            done = status in ("closed", "failed") and not state["procs"] and not state["runners"] and not state["closing"]
        if done:
            return


def _tail(path, limit=4000):
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - limit))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _output_relay(spec, worker):
    """The function that hands a chunk of the running task's output to the bridge, or None
    when the task was submitted without live output (nothing is then read or sent).

    Worker.log_event is safe from a task thread (it hops onto the worker's loop); the
    event goes to the scheduler and on to the bridge subscribed to the topic."""
    topic = spec.get("outputTopic")
    if not topic:
        return None
    key = spec["key"]

    def relay(stream, text):
        if stream not in ("stdout", "stderr") or not isinstance(text, str) or not text:
            return
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate (JSON may carry one) cannot be packed for the wire: replace it.
            text = text.encode("utf-8", "replace").decode("utf-8")
        try:
            worker.log_event(topic, {"valence": "output", "key": key, "stream": stream, "text": text})
        except Exception:
            pass  # the live copy is a convenience: the task's result carries its whole output

    return relay


def _relay_output_file(path, offset, relay):
    """Relays the chunks of the whole lines of a task's output.jsonl past `offset` and returns
    the offset after them. A line still being written (no newline yet) is read again next
    time from its start; the file is ASCII, one JSON object per line (see
    packages/valence/src/executor/wire/output-file.ts)."""
    import json

    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return offset  # not written yet: the task has printed nothing
    end = data.rfind(b"\n")
    if end < 0:
        return offset
    for line in data[:end].split(b"\n"):
        try:
            chunk = json.loads(line)
        except ValueError:
            continue  # a foreign or empty line: skip it, never fail the task over it
        if isinstance(chunk, dict):
            relay(chunk.get("stream"), chunk.get("text"))
    return offset + end + 1


def _cannot_start(spec, worker, error):
    return {
        "resultJson": None,
        "stderrTail": "",
        "exitCode": None,
        "error": f"cannot start node ({spec['nodePath']!r}) on worker {worker.address}: {error};"
        " install node on the workers or set the executor's nodePath option",
    }


def run_task(spec, runner, bundle, task_json):
    """Runs one task package with node; returns {resultJson, stderrTail, exitCode[, error]}."""
    import os
    import tempfile
    import uuid

    from distributed import get_worker

    worker = get_worker()
    state = _worker_state(worker)
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

    put(spec["runnerRel"], runner)
    put(spec["bundleRel"], bundle)
    task_bytes = task_json if isinstance(task_json, bytes) else task_json.encode("utf-8")
    relay = _output_relay(spec, worker)
    if spec.get("isolation", "runner") == "process":
        result = _run_in_process(spec, worker, state, workdir, task_bytes, relay)
    else:
        result = _run_in_runner(spec, worker, state, workdir, task_bytes, relay)
    # Where it ran: the dashboard's timeline draws a row per Dask worker.
    return {**result, "worker": worker.address}


def _run_in_process(spec, worker, state, workdir, task_bytes, relay):
    """isolation "process": a fresh `node RUNNER TASKDIR`, task.json in, result.json out. With
    `relay`, the output.jsonl the runner appends to is followed while it runs."""
    import os
    import shutil
    import subprocess

    key = spec["key"]
    task_dir = os.path.join(workdir, spec["taskDir"])
    os.makedirs(task_dir, exist_ok=True)
    with open(os.path.join(task_dir, "task.json"), "wb") as f:
        f.write(task_bytes)

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
                return _cannot_start(spec, worker, e)
        with state["lock"]:
            state["procs"][key] = {"proc": proc, "killed": False}
        code = _wait_relaying(proc, os.path.join(task_dir, "output.jsonl"), relay)
        with state["lock"]:
            state["procs"].pop(key, None)
        try:
            with open(os.path.join(task_dir, "result.json"), "rb") as f:
                result_json = f.read().decode("utf-8")
        except FileNotFoundError:
            result_json = None
        return {"resultJson": result_json, "stderrTail": _tail(os.path.join(task_dir, "stderr.log")), "exitCode": code}
    finally:
        shutil.rmtree(task_dir, ignore_errors=True)


def _wait_relaying(proc, output_file, relay):
    """Waits for a per-task process to exit; with `relay`, a thread relays its output file
    every OUTPUT_POLL_SECONDS meanwhile, and what it wrote last is relayed once it has exited.

    The wait itself stays a bare, blocking proc.wait(): a loop of proc.wait(timeout) would
    poll with sleeps of up to 50 ms and notice every task's end that much later. A cancel
    ends the wait as before: the reaper or kill_task kills the process group."""
    import threading

    if relay is None:
        return proc.wait()
    exited = threading.Event()
    offset = [0]  # the follower's, then this thread's once the follower has been joined

    def follow():
        while not exited.wait(OUTPUT_POLL_SECONDS):
            offset[0] = _relay_output_file(output_file, offset[0], relay)

    follower = threading.Thread(target=follow, name="valence-output", daemon=True)
    follower.start()
    try:
        return proc.wait()
    finally:
        exited.set()
        follower.join()
        # Before the result returns, so the last chunks travel ahead of the task's end.
        _relay_output_file(output_file, offset[0], relay)


def _run_in_runner(spec, worker, state, workdir, task_bytes, relay):
    """isolation "runner": sends the task to a persistent runner of its pool key, started if
    none is idle, and waits for its result line.

    A runner runs one task at a time here (a worker thread holds it from the run line to the
    result line), so the next result line a runner writes is always this task's own: no
    matching of ids among several tasks, and a runner that dies takes down only the task it
    was running. Dask's threads bound how many runners a worker has busy at once."""
    import json
    import os
    import subprocess
    import time
    import uuid

    key = spec["key"]
    pool = (spec["nodePath"], workdir, spec["runnerRel"], spec["bundleRel"])
    # Absolute: a task that calls process.chdir must not break the next task's bundle path.
    bundle_path = os.path.join(os.path.abspath(workdir), spec["bundleRel"])
    task_id = json.dumps(key).encode("utf-8")
    run_line = b'{"t":"run","id":' + task_id + b',"bundle":' + json.dumps(bundle_path).encode("utf-8") + b',"task":' + task_bytes + b"}\n"
    result_prefix = b'{"t":"result","id":' + task_id + b',"result":'
    output_prefix = b'{"t":"output","id":' + task_id + b","

    def ended(runner, error=None):
        """The runner ended under this task: its exit and the end of its stderr."""
        proc = runner["proc"]
        try:
            code = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # it closed its stdout yet lives on: end it
            with state["lock"]:
                _kill_entry(runner)
            code = proc.wait()
        with state["lock"]:
            state["procs"].pop(key, None)
            _retire_runner(state, runner)
        result = {"resultJson": None, "stderrTail": _tail(runner["log"]), "exitCode": code}
        if error:
            result["error"] = error
        return result

    for attempt in range(2):
        runner = None
        with state["lock"]:
            idle = state["idle"].get(pool) or []
            while idle and runner is None:
                candidate = idle.pop()  # the most recently used: its code is warm
                if candidate["proc"].poll() is None and not candidate["killed"]:
                    runner = candidate
                else:
                    _retire_runner(state, candidate)
            if runner is not None:
                state["procs"][key] = runner
        reused = runner is not None
        if runner is None:
            os.makedirs(os.path.join(workdir, "runners"), exist_ok=True)
            log = os.path.join(workdir, "runners", f"runner-{uuid.uuid4().hex[:12]}.log")
            try:
                with open(log, "wb") as err:
                    # Its own session (process group), so a cancel kills node and anything its task started.
                    proc = subprocess.Popen(
                        [spec["nodePath"], spec["runnerRel"], "--serve"],
                        cwd=workdir,
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        stderr=err,
                        start_new_session=True,
                    )
            except OSError as e:
                try:
                    os.unlink(log)
                except OSError:
                    pass
                return _cannot_start(spec, worker, e)
            runner = {"proc": proc, "pool": pool, "log": log, "killed": False, "ready": False, "idle_since": 0.0}
            with state["lock"]:
                state["runners"].append(runner)
                state["procs"][key] = runner
        proc = runner["proc"]

        while not runner["ready"]:
            line = proc.stdout.readline()
            if not line:
                return ended(runner)  # it died starting, or the task was cancelled meanwhile
            if line.startswith(b'{"t":"ready"'):
                ready = json.loads(line)
                if ready.get("format") != 1:
                    with state["lock"]:
                        state["procs"].pop(key, None)
                        _retire_runner(state, runner)
                    return {
                        "resultJson": None,
                        "stderrTail": _tail(runner["log"]),
                        "exitCode": None,
                        "error": f"the task runner speaks serve format {ready.get('format')!r}; this valence speaks 1:"
                        " use the same valence version on both sides",
                    }
                runner["ready"] = True

        try:
            proc.stdin.write(run_line)
            proc.stdin.flush()
        except (OSError, ValueError):
            # The runner went away before it could read the task (an idle runner killed from
            # outside): the task never ran, so it may go to a fresh runner once.
            if reused and attempt == 0 and not runner["killed"]:
                with state["lock"]:
                    state["procs"].pop(key, None)
                    _retire_runner(state, runner)
                continue
            return ended(runner)

        while True:
            line = proc.stdout.readline()
            if not line:
                return ended(runner)  # process.exit, a crash, or this task's cancel killed it
            if line.startswith(result_prefix):
                body = line.rstrip(b"\r\n")
                result_json = body[len(result_prefix) : -1].decode("utf-8")
                break
            if relay is not None and line.startswith(output_prefix):
                try:
                    chunk = json.loads(line)
                except ValueError:
                    continue  # the live copy only: the result carries the whole output
                relay(chunk.get("stream"), chunk.get("text"))
            # Nothing else reaches the runner's stdout (serve.ts sends stray output to stderr);
            # output lines of a task not submitted live are dropped unparsed.

        with state["lock"]:
            state["procs"].pop(key, None)
            if runner["killed"] or proc.poll() is not None:
                _retire_runner(state, runner)  # a cancel that came as the result did
            else:
                runner["idle_since"] = time.monotonic()
                state["idle"].setdefault(pool, []).append(runner)
                _trim_idle(state, worker)
        # The runner's stderr is shared by its tasks; a task's own output is in its result.
        return {"resultJson": result_json, "stderrTail": "", "exitCode": 0}
    raise AssertionError("unreachable")


def _trim_idle(state, worker):
    """Keeps at most twice the worker's threads idle runners (across bundles): the oldest idle
    ones go first. Call with the state's lock held."""
    nthreads = getattr(getattr(worker, "state", worker), "nthreads", None) or getattr(worker, "nthreads", 1) or 1
    idle = [r for pool in state["idle"].values() for r in pool]
    for runner in sorted(idle, key=lambda r: r["idle_since"])[: max(0, len(idle) - 2 * nthreads)]:
        _retire_runner(state, runner)


def kill_task(key, dask_worker=None):
    """Run on every worker by `Client.run` (outside the task threads): kills the process group
    of the task's process, or of the runner running it (the runner is then dropped)."""
    state = _worker_state(dask_worker)
    with state["lock"]:
        entry = state["procs"].get(key)
        if entry is None:
            return False
        return _kill_entry(entry)


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

    def on_event(self, event):
        """Handler of the bridge's own topic (subscribed in main): relays the output chunks
        workers logged there. The scheduler logs its own messages to a client's topic too
        (add-client, remove-client), so anything else is ignored. Runs on the client's
        loop: it must never raise, or the client's report stream would suffer."""
        try:
            _, msg = event
            if not isinstance(msg, dict) or msg.get("valence") != "output":
                return
            key, stream, text = msg.get("key"), msg.get("stream"), msg.get("text")
            if isinstance(key, str) and stream in ("stdout", "stderr") and isinstance(text, str):
                emit({"event": "output", "key": key, "stream": stream, "text": text})
        except Exception as e:
            print(f"valence bridge: dropped an output event: {describe(e)}", file=sys.stderr)

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
            "isolation": req.get("isolation") or "runner",
            # Where the worker relays the task's output while it runs: this bridge's topic.
            "outputTopic": self.client.id if req.get("live") else None,
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
    # Before "ready": a task submitted live at once must find its output relayed.
    client.subscribe_topic(client.id, bridge.on_event)
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
