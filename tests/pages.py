"""Serving the page as a user starts it, for the browser tests and the page benchmark."""

import socket
import subprocess
import sys
import threading
import time
from collections import deque


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python -m realtime ...`` serving the page, as a user starts it; its output is read all along (a
    full pipe would stall it) and the last lines kept for a failure message."""

    def __init__(self, *args: str, launcher: tuple[str, ...] = (sys.executable, "-m", "realtime")):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [*launcher, *args, "--port", str(self.port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output: deque[str] = deque(maxlen=200)
        deadline = time.monotonic() + 120
        for line in self.proc.stdout:
            self.output.append(line)
            if "Running on local URL" in line:
                break
            if time.monotonic() > deadline:
                raise TimeoutError("the page did not come up:\n" + "".join(self.output))
        else:
            raise RuntimeError("the server exited:\n" + "".join(self.output))
        threading.Thread(target=self.output.extend, args=(self.proc.stdout,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.port}/"

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
