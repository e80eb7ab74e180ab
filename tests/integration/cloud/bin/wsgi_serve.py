"""Serve one WSGI application on a loopback port with a threaded wsgiref server.

Usage: wsgi_serve.py module:attribute port program-name

The Keystone and Placement wheels ship WSGI applications (``keystone.wsgi.api:application``,
``placement.wsgi.api:application``) but no server command, and this harness needs no third-party
WSGI server: the standard library's, one thread per request, is enough for tests. Nova's API is
served the same way by ``nova_svc.py api``, which first installs Nova's Glance/Neutron fixtures.
"""

from __future__ import annotations

import importlib
import socketserver
import sys
from collections.abc import Callable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

HOST = "127.0.0.1"  # loopback only, always


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class QuietHandler(WSGIRequestHandler):
    """One access-log line per request on stderr (the service's own log has the details)."""

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


def serve(app: Callable[..., Any], port: int) -> None:
    """Serve ``app`` on 127.0.0.1:``port`` until the process is stopped."""
    server = make_server(HOST, port, app, server_class=ThreadingWSGIServer, handler_class=QuietHandler)
    print(f"serving on http://{HOST}:{port}", flush=True)
    server.serve_forever()


def main() -> None:
    target, port, program = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    # oslo.config inside the application parses sys.argv: leave only a program name.
    sys.argv = [program]
    module, attribute = target.split(":")
    serve(getattr(importlib.import_module(module), attribute), port)


if __name__ == "__main__":
    main()
