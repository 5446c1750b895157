"""Listening: the socket (bound before serving, so port 0 is known), uvicorn with the guarded
protocol, and a shutdown on SIGINT or SIGTERM that finishes the requests in flight."""

from __future__ import annotations

import sys
import ipaddress
import signal
import socket
from collections.abc import Callable
from typing import Any

from judge.rl.config import API_KEY_ENV, ServeOptions, ServerConfig
from judge.rl.connections import guarded_protocol
from judge.build import JudgeOptions, build_judge
from judge.models import ModelOptions, open_backends
from judge.rl.scorer import RewardScorer
from judge.rl.server import create_app


def is_loopback(host: str) -> bool:
    """Whether an address to listen on is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: any free port), so the address is known before serving."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say so, and
    # without it a kept-alive connection waits ~40 ms (Nagle against delayed ACKs) per answer.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as e:  # the CLI prints it as one line naming the address
        sock.close()
        raise OSError(e.errno, f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    return sock


def make_server(app: Any, *, graceful_timeout: float = 60.0, log_level: str = "warning") -> Any:
    import uvicorn

    limits: ServerConfig = app.state.config
    protocol = guarded_protocol(limits.read_timeout, limits.max_connections, app.state.connections)
    config = uvicorn.Config(
        app,
        http=protocol,
        log_level=log_level,
        timeout_graceful_shutdown=graceful_timeout,
        access_log=False,
        lifespan="on",
    )
    return uvicorn.Server(config)


def serve(
    scorer: RewardScorer,
    config: ServerConfig,
    host: str,
    port: int,
    *,
    graceful_timeout: float = 60.0,
    on_listen: Callable[[str, int], None] = lambda host, port: None,
) -> None:
    """Serve until SIGINT or SIGTERM, then finish the requests in flight and return."""
    sock = bind(host, port)
    on_listen(*sock.getsockname()[:2])
    # uvicorn finishes in-flight requests on SIGINT/SIGTERM, then re-raises the signal:
    # with these handlers that ends in a clean exit instead of death by signal.
    previous = {s: signal.signal(s, lambda *_: None) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        make_server(create_app(scorer, config), graceful_timeout=graceful_timeout).run(sockets=[sock])
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def serve_command(
    options: ServeOptions,
    judging: JudgeOptions,
    models: ModelOptions,
    say: Callable[[str], None] = lambda message: print(message, file=sys.stderr, flush=True),
) -> None:
    """`rubric serve` as a function of its typed options: warn about an exposed or visible key,
    build the judge (judge.build), serve until stopped."""
    config = options.config()
    if options.api_key:
        say(
            f"rubric serve: warning: --api-key shows in the process list (ps) to every user of this machine; set {API_KEY_ENV} instead"
        )
    if not config.api_key and not is_loopback(options.host):
        say(
            f"rubric serve: warning: listening on {options.host} without --api-key: anyone who can reach it can use the judge "
            f"(set --api-key or {API_KEY_ENV})"
        )
    judge = build_judge(judging, open_backends(models, on_default=say))
    scorer = RewardScorer(judge, rubric=options.rubric, shaping=options.shaping())

    def listening(host: str, port: int) -> None:
        say(
            f"rubric serve: listening on http://{host}:{port} (model {judge.model_label}; micro-batching up to "
            f"{config.max_batch} items, {options.max_wait_ms:g} ms, {config.slots} calls in flight)"
        )

    serve(scorer, config, options.host, options.port, graceful_timeout=options.graceful_timeout, on_listen=listening)
    say("rubric serve: stopped")
