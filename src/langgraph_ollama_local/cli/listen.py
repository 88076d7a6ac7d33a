"""Bind `hitl serve`'s listening socket before anything else happens.

uvicorn binds late (after the first-run token is printed) and reports a clash as a bare
`[Errno 98]`. Binding here first means a port in use is said in one line, naming the
port and the option that picks another, before any token or login link exists; the bound
socket is then handed to uvicorn, so nothing can take the port in between.
"""

from __future__ import annotations

import errno
import socket

from langgraph_ollama_local.cli.common import UsageError


def bind_listener(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port), as uvicorn would bind it; `UsageError` if it cannot be."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family=family, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # uvicorn's choice: restarts rebind at once
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(bind_failure(host, port, exc)) from exc
    sock.set_inheritable(True)
    return sock


def bind_failure(host: str, port: int, exc: OSError) -> str:
    """What went wrong binding, and the option that fixes it."""
    if exc.errno == errno.EADDRINUSE:
        other = port + 1 if 0 < port < 65535 else 8001
        return (
            f"port {port} on {host} is already in use (another `hitl serve`, or another program: "
            f"`ss -ltnp 'sport = :{port}'` shows which); pick another port with --port, "
            f"e.g. --port {other}, or stop what uses it"
        )
    if exc.errno == errno.EACCES:
        return (
            f"not allowed to listen on port {port} (ports below 1024 need privileges); "
            "pick a port from 1024 up with --port, e.g. --port 8000"
        )
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        return (
            f"cannot listen on {host}: no network interface of this machine has that address "
            f"({exc.strerror or exc}); use --host 127.0.0.1 (this machine only) or --host 0.0.0.0 (all)"
        )
    return f"cannot listen on {host}:{port} ({exc.strerror or exc}); check --host and --port"
