"""A real HTTP server on 127.0.0.1 for remote-input tests, with scripted faults per path.

Python's own ``http.server`` in a thread rather than nginx: the faults the tests need (a connection
dropped mid-body once, then a full answer; 503 twice, then 200; 503 forever) are a few lines here and would
need a scripting module or a fault proxy in front of nginx. The client side under test (urllib, sockets,
Content-Length checks) is the same either way.

    with FaultyServer({"/a.jsonl": data}, faults={"/a.jsonl": ["drop", 503]}) as srv:
        srv.url("/a.jsonl")    # http://127.0.0.1:PORT/a.jsonl
        srv.gets["/a.jsonl"]   # GET requests answered so far

A path's fault script is consumed one GET at a time (``"drop"``: full Content-Length, half the body, then
the connection is closed; an int: that status with an empty body); then it answers normally, or with
``forever[path]`` (a status) on every GET. HEAD requests always answer normally and are not counted.
"""
from __future__ import annotations

import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional


class FaultyServer:
    def __init__(self, files: dict[str, bytes], faults: Optional[dict[str, list]] = None,
                 forever: Optional[dict[str, int]] = None):
        self.files = dict(files)
        self.faults = {k: list(v) for k, v in (faults or {}).items()}
        self.forever = dict(forever or {})
        self.gets: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _headers(self, status: int, length: int) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(length))
                self.end_headers()

            def do_HEAD(self):
                path = self.path.split("?", 1)[0]
                if path not in server.files:
                    self._headers(404, 0)
                    return
                self._headers(200, len(server.files[path]))

            def do_GET(self):
                path = self.path.split("?", 1)[0]
                with server._lock:
                    server.gets[path] += 1
                    script = server.faults.get(path)
                    action = script.pop(0) if script else server.forever.get(path)
                if path not in server.files:
                    self._headers(404, 0)
                    return
                body = server.files[path]
                if action == "drop":
                    self._headers(200, len(body))
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if isinstance(action, int):
                    self._headers(action, 0)
                    return
                self._headers(200, len(body))
                self.wfile.write(body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> "FaultyServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
