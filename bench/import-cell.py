"""Worker for bench/import-cell.ts: starts one fresh Jupyter kernel per request, runs cells in it
and times each one, the way a frontend sees it.

Reads one JSON request per line on stdin:
    {"id": 1, "kernel": "tslab", "cwd": "/abs/dir", "cells": ["code", ...], "timeout": 120}
and answers one JSON line on stdout:
    {"id": 1, "startMs": ..., "cells": [{"ms": ..., "replyMs": ..., "idleMs": ..., "status": "ok",
      "error": null, "stdout": "...", "result": "..."}, ...]}
or {"id": 1, "failed": "message"} when the kernel could not be started.

Timing of a cell: CLOCK_MONOTONIC from just before the execute_request is sent to the later of its
execute_reply (shell) and its status "idle" (iopub): the moment a notebook shows the cell finished
with all of its outputs. Both channels are polled together, so each arrival is timestamped when it
arrives. startMs: from starting the kernel process to its answer to kernel_info (tslab builds its
TypeScript program before it answers: that is not in any cell's time). The kernel is killed after
its cells; a cell that fails ends the request (tslab cancels what follows a failed cell).

usage: import-cell.py   (Debian's /usr/bin/python3 with jupyter_client; JUPYTER_PATH set by the caller)
"""
import json
import queue
import sys
import time

import zmq
from jupyter_client import KernelManager


def now_ms():
    return time.monotonic_ns() / 1e6


def run_cell(kc, code, timeout):
    shell = kc.shell_channel
    iopub = kc.iopub_channel
    poller = zmq.Poller()
    poller.register(shell.socket, zmq.POLLIN)
    poller.register(iopub.socket, zmq.POLLIN)
    t0 = now_ms()
    msg_id = kc.execute(code, store_history=True, allow_stdin=False)
    reply_at = idle_at = None
    reply = None
    stdout, stderr, result, errors = [], [], [], []
    deadline = t0 + timeout * 1000
    while reply_at is None or idle_at is None:
        left = deadline - now_ms()
        if left <= 0:
            raise TimeoutError(f"cell did not finish within {timeout} s: {code!r}")
        events = dict(poller.poll(left))
        if iopub.socket in events:
            while True:
                try:
                    msg = kc.get_iopub_msg(timeout=0)
                except queue.Empty:
                    break
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "status" and content.get("execution_state") == "idle":
                    idle_at = now_ms()
                elif kind == "stream":
                    (stdout if content.get("name") == "stdout" else stderr).append(content.get("text", ""))
                elif kind in ("execute_result", "display_data"):
                    result.append(str(content.get("data", {}).get("text/plain", "")))
                elif kind == "error":
                    errors.append(f"{content.get('ename')}: {content.get('evalue')}\n" + "\n".join(content.get("traceback", [])))
        if shell.socket in events:
            while True:
                try:
                    msg = kc.get_shell_msg(timeout=0)
                except queue.Empty:
                    break
                if msg.get("parent_header", {}).get("msg_id") == msg_id:
                    reply_at = now_ms()
                    reply = msg["content"]
    status = reply.get("status", "?")
    if status != "ok" and reply.get("ename"):
        errors.append(f"{reply.get('ename')}: {reply.get('evalue')}")
    failed = status != "ok" or errors
    return {
        "ms": max(reply_at, idle_at) - t0,
        "replyMs": reply_at - t0,
        "idleMs": idle_at - t0,
        "status": status,
        # tslab reports type errors and exceptions on stderr and answers status "error".
        "error": ("\n".join(errors + stderr).strip() or f"status {status}") if failed else None,
        "stdout": "".join(stdout),
        "stderr": "".join(stderr),
        "result": "\n".join(result),
    }


def handle(request):
    km = KernelManager(kernel_name=request.get("kernel", "tslab"))
    t0 = now_ms()
    km.start_kernel(cwd=request["cwd"])
    kc = None
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=request.get("timeout", 120))
        start_ms = now_ms() - t0
        cells = []
        for code in request["cells"]:
            cell = run_cell(kc, code, request.get("timeout", 120))
            cells.append(cell)
            if cell["error"]:
                break
        return {"id": request["id"], "startMs": start_ms, "cells": cells}
    finally:
        if kc is not None:
            kc.stop_channels()
        km.shutdown_kernel(now=True)


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            answer = handle(request)
        except Exception as error:  # a kernel that did not start or a cell that hung
            answer = {"id": request.get("id"), "failed": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
