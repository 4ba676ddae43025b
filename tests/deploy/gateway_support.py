"""Serving helpers of the gateway tests: Parley's ASGI app (Django + the gateway) under a real uvicorn on a
free port, in a thread of the test process (so it reads the test database), and a *scripted upstream*:
an OpenAI-compatible stand-in for vLLM that answers the replies a test lists. The scripted upstream is
the named fake of these tests: the real tiny model cannot be made to leak a target price on cue, so the
guardrail's regenerate / fallback paths are driven by it; everything else runs against real vLLM
(``test_gateway_vllm.py``)."""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from engine.serve import free_port


@contextmanager
def serve_in_thread(app, *, lifespan: str = "on"):
    """``app`` under uvicorn on a free port; yields ``http://127.0.0.1:PORT``; stops it (lifespan shutdown)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan=lifespan, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class ScriptedUpstream:
    """An OpenAI chat-completions server that answers ``replies`` in turn (the last one repeats)."""

    def __init__(self, replies: list[str]):
        self.replies = list(replies)
        self.requests: list[dict] = []
        self.app = Starlette(routes=[Route("/v1/chat/completions", self.chat, methods=["POST"])])

    async def chat(self, request: Request):
        body = await request.json()
        self.requests.append(body)
        text = self.replies[min(len(self.requests) - 1, len(self.replies) - 1)]
        if body.get("stream"):

            async def chunks():
                for piece in (text[: len(text) // 2], text[len(text) // 2 :]):
                    delta = {"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
                    yield f"data: {json.dumps({'id': 'x', 'object': 'chat.completion.chunk', **delta})}\n\n"
                yield "data: [DONE]\n\n"

            return StreamingResponse(chunks(), media_type="text/event-stream")
        return JSONResponse(
            {
                "id": "x",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            }
        )


def parley_asgi():
    """The application ``parley/asgi.py`` serves (Django + the gateway), under the test settings."""
    from django.core.asgi import get_asgi_application

    from deploy.gateway.app import Gateway, mount

    gateway = Gateway()
    app = mount(get_asgi_application(), gateway)
    app.gateway_obj = gateway
    return app


def wait_for(predicate, *, timeout_s: float = 20.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def post(base: str, key: str, body, **kwargs) -> httpx.Response:
    content = body if isinstance(body, bytes | str) else json.dumps(body)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    return httpx.post(f"{base}/v1/chat/completions", content=content, headers=headers, timeout=60, **kwargs)
