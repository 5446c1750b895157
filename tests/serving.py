"""A reward server on 127.0.0.1 for tests: real uvicorn in a thread, started and stopped around a block."""

from __future__ import annotations

import threading
import time

import httpx

from judge.engine import Judge
from judge.rl import RewardScorer
from judge.rl.config import ServerConfig
from judge.rl.listen import bind, make_server
from judge.rl.server import create_app

PRINCIPLES = ["The answer is correct.", "The answer is polite."]


class RunningServer:
    def __init__(self, scorer: RewardScorer, config: ServerConfig | None = None):
        self.app = create_app(scorer, config)
        self.sock = bind("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = make_server(self.app, graceful_timeout=5)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> RunningServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def metrics(self) -> dict:
        return httpx.get(self.url + "/metrics").json()


def serve(backend, *, rubric=PRINCIPLES, **config) -> RunningServer:
    return RunningServer(RewardScorer(Judge(backend, batch_size=256), rubric=rubric), ServerConfig(**config))
