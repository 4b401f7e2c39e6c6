"""A TCP proxy in front of a real server that a test can cut and restore: an outage on demand.

`cut()` closes every live connection and answers each new one by closing it at
once (what a client sees when a load balancer or network path drops); `restore()`
forwards again. The code under test keeps its real endpoint URL (the proxy's), so
botocore's own retries, backoff and timeouts are what ride out the cut.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Iterator


class CuttableProxy:
    """127.0.0.1:<port> → target, forwarding byte for byte while up."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self.up = threading.Event()
        self.up.set()
        self.refused = 0  # connections closed at once while cut
        self._live: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> None:
        self.up.clear()
        with self._lock:
            for sock in list(self._live):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._live.clear()

    def restore(self) -> None:
        self.up.set()

    def restore_after(self, seconds: float) -> threading.Timer:
        timer = threading.Timer(seconds, self.restore)
        timer.daemon = True
        timer.start()
        return timer

    def close(self) -> None:
        self._stop.set()
        self.cut()
        self._thread.join(timeout=5)
        self.listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            if not self.up.is_set():
                self.refused += 1
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._live |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.close()
            with self._lock:
                self._live -= {src, dst}


@contextlib.contextmanager
def cuttable(endpoint: str) -> Iterator[CuttableProxy]:
    """A proxy in front of `endpoint` ("http://127.0.0.1:PORT"), closed afterwards."""
    host, port = endpoint.rsplit("//", 1)[1].split(":")
    proxy = CuttableProxy(host, int(port))
    try:
        yield proxy
    finally:
        proxy.close()
