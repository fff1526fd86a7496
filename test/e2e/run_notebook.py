"""Executes a notebook in a real kernel with nbclient, the way `jupyter nbconvert --execute` does,
and saves it. Streams every iopub message as a JSON line on stdout while it runs, so the Node test
can react (click the Sign in link, interrupt the kernel), and accepts commands on stdin:
`interrupt` sends SIGINT to the kernel, as Jupyter's interrupt button does; `answer <text>` answers
the kernel's next input request (Jupyter's stdin channel, which Deno's prompt() uses) with <text>,
as a person typing into the notebook's input box would. Without the stdin option, the kernel is told
that there is no stdin (as by nbconvert).

usage: run_notebook.py IN.ipynb OUT.ipynb WORKDIR [TIMEOUT_SECONDS] [KERNEL_NAME] [stdin]
"""
import asyncio
import queue
import json
import os
import signal
import sys
import threading
import time

import nbformat
from nbclient import NotebookClient


def emit(event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


class StreamingClient(NotebookClient):
    answers = queue.Queue()
    with_stdin = False

    def process_message(self, msg, cell, cell_index):
        emit({"event": "iopub", "cell": cell_index, "msg_type": msg["msg_type"], "content": msg["content"]})
        return super().process_message(msg, cell, cell_index)

    drain_late_output = False

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        result = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        if self.drain_late_output and cell.cell_type == "code":
            await self._drain(cell, cell_index)
        return result

    async def _drain(self, cell, cell_index):
        # Deno's kernel sometimes reports a cell idle before the cell's last output; nbclient stops
        # listening at idle. A kernel_info request is answered after everything sent before it:
        # read iopub until its own idle, and give the cell what arrived late.
        request = self.kc.kernel_info()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                msg = await self.kc.get_iopub_msg(timeout=1)
            except queue.Empty:
                continue
            parent = msg.get("parent_header", {})
            if parent.get("msg_id") == request:
                if msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle":
                    return
                continue
            if parent.get("msg_type") == "execute_request" and msg["msg_type"] in ("display_data", "update_display_data", "stream", "execute_result", "error"):
                self.process_message(msg, cell, cell_index)

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        if self.with_stdin:
            kc.allow_stdin = True
            asyncio.ensure_future(self._serve_stdin())
        return kc

    async def _serve_stdin(self):
        loop = asyncio.get_running_loop()
        while self.kc is not None:
            try:
                msg = await self.kc.stdin_channel.get_msg(timeout=0.2)
            except queue.Empty:
                continue
            except Exception:
                return
            if msg["msg_type"] != "input_request":
                continue
            emit({"event": "input_request", "content": msg["content"]})
            answer = await loop.run_in_executor(None, self.answers.get)
            self.kc.input(answer)


def main():
    src, dst, workdir = sys.argv[1], sys.argv[2], sys.argv[3]
    timeout = int(sys.argv[4]) if len(sys.argv) > 4 else 120
    kernel = sys.argv[5] if len(sys.argv) > 5 else "tslab"
    nb = nbformat.read(src, as_version=4)
    client = StreamingClient(nb, timeout=timeout, kernel_name=kernel, allow_errors=True,
                             resources={"metadata": {"path": workdir}})
    client.with_stdin = len(sys.argv) > 6 and sys.argv[6] == "stdin"
    client.drain_late_output = kernel == "deno"
    def on_cell_execute(cell, cell_index):
        # After a failed cell, tslab cancels every request that arrives within 200 ms
        # (jupyter.js, execQueue.reset(200)): nbclient's next cell would come back empty.
        # A person never types that fast; pause like one.
        time.sleep(0.3)
        emit({"event": "cell_start", "cell": cell_index})

    client.on_cell_execute = on_cell_execute

    def commands():
        for line in sys.stdin:
            if line.startswith("answer "):
                client.answers.put(line[len("answer "):].rstrip("\n"))
                continue
            if line.strip() == "interrupt" and client.km is not None:
                pid = client.km.provisioner.process.pid
                os.kill(pid, signal.SIGINT)
                emit({"event": "interrupted", "pid": pid})

    threading.Thread(target=commands, daemon=True).start()
    try:
        client.execute()
    finally:
        nbformat.write(nb, dst)
        emit({"event": "done"})


if __name__ == "__main__":
    main()
