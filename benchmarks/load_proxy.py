"""Load through the proxy: many users at once, each with a unique marker in its memories.

Starts, each as its own process on 127.0.0.1: a recording fake OpenAI-compatible backend (this file with
``--fake-backend``) and ``palign serve`` in front of it (a fresh store in a temp dir, the bundled embedding
model). Then ``--users`` users send ``--requests`` chat completions each, all users concurrently, through the
proxy; afterwards the same load goes to the fake backend directly, the baseline of the same run.

Checks and reports:
- leaks: every prompt the backend received is searched for every user's marker; a marker in another user's
  prompt is a leak (there must be 0), and the share of prompts holding their own user's marker is reported;
- throughput (requests/s) and latency (median, p95) through the proxy and directly, and the proxy's added
  latency (the difference of the medians and of the p95s).

    .venv/bin/python benchmarks/load_proxy.py                       # 50 users x 200 requests
    .venv/bin/python benchmarks/load_proxy.py --users 5 --requests 20   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from fastapi import Request

ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"ZQX-[0-9a-f]{10}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def fake_backend(port: int, log: str) -> None:
    """A recording OpenAI-compatible backend: answers at once, appends (user, markers in the prompt) to ``log``."""
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()
    out = open(log, "a", encoding="utf-8")  # noqa: SIM115 - open for the server's lifetime

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> dict[str, Any]:
        body = await request.json()
        prompt = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
        out.write(json.dumps({"user": body.get("user"), "markers": MARKER.findall(prompt)}) + "\n")
        out.flush()
        message = {"role": "assistant", "content": "Noted."}
        return {
            "id": "chatcmpl-load",
            "object": "chat.completion",
            "created": 1,
            "model": "fake",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def _wait(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up in {seconds} s")


QUESTIONS = [
    "What did I name my boat?",
    "Plan a short walk for this evening.",
    "Which book should I read next?",
    "Remind me what my boat is called.",
    "Suggest a quick lunch.",
]


async def _load(base: str, users: list[str], requests: int, concurrency: int) -> tuple[list[float], float]:
    """Every user's requests in order, all users at once (at most ``concurrency`` in flight)."""
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    failures = retried = 0

    async def one_user(client: httpx.AsyncClient, user: str) -> None:
        nonlocal failures, retried
        for n in range(requests):
            body = {
                "model": "fake",
                "user": user,
                "messages": [{"role": "user", "content": f"{QUESTIONS[n % len(QUESTIONS)]} (#{n})"}],
            }
            async with gate:
                started = time.perf_counter()
                try:
                    response = await client.post(f"{base}/chat/completions", json=body)
                except httpx.TransportError:  # a kept-alive connection the server closed as it was reused
                    retried += 1
                    started = time.perf_counter()
                    response = await client.post(f"{base}/chat/completions", json=body)
                latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                failures += 1
                if failures == 1:
                    print(f"first failure: {response.status_code} {response.text[:300]}", file=sys.stderr)

    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=concurrency)) as client:
        await asyncio.gather(*(one_user(client, user) for user in users))
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{failures} requests failed")
    if retried:
        print(f"{retried} requests were sent again after a closed connection", file=sys.stderr)
    return latencies, elapsed


def _p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--requests", type=int, default=200, help="requests per user")
    parser.add_argument("--concurrency", type=int, default=50, help="requests in flight at most")
    parser.add_argument("--fake-backend", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--log", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fake_backend:
        fake_backend(args.fake_backend, args.log)
        return

    work = Path(tempfile.mkdtemp(prefix="palign-load-"))
    log = work / "received.jsonl"
    backend_port, proxy_port = _free_port(), _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PALIGN_HOME": str(work / "home")}
    backend = subprocess.Popen(
        [sys.executable, __file__, "--fake-backend", str(backend_port), "--log", str(log)], env=env
    )
    proxy = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "palign_rag.cli",
            "serve",
            "--port",
            str(proxy_port),
            "--backend",
            "openai",
            "--base-url",
            f"http://127.0.0.1:{backend_port}/v1",
            "--model",
            "fake",
        ],
        env={**env, "OPENAI_API_KEY": "none"},
    )
    try:
        direct_url, proxy_url = f"http://127.0.0.1:{backend_port}/v1", f"http://127.0.0.1:{proxy_port}/v1"
        _wait(f"http://127.0.0.1:{backend_port}/docs")
        _wait(f"{proxy_url}/models")
        users = [f"user{n:03d}" for n in range(args.users)]
        markers = {user: f"ZQX-{secrets.token_hex(5)}" for user in users}
        for user in users:
            for text in (f"I named my boat {markers[user]}.", "I prefer short answers.", "I live near the sea."):
                added = httpx.post(f"{proxy_url}/users/{user}/memories", json={"text": text}, timeout=60)
                added.raise_for_status()
        log.write_text("")
        through, through_s = asyncio.run(_load(proxy_url, users, args.requests, args.concurrency))
        received = [json.loads(line) for line in log.read_text().splitlines()]
        log.write_text("")
        direct, direct_s = asyncio.run(_load(direct_url, users, args.requests, args.concurrency))
    finally:
        for process in (proxy, backend):
            process.terminate()
            process.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    owner = {marker: user for user, marker in markers.items()}
    leaks = sum(1 for r in received for m in r["markers"] if owner.get(m) != r["user"])
    own = sum(1 for r in received if markers[r["user"]] in r["markers"])
    total = len(through)
    figures = {
        "users": args.users,
        "requests_per_user": args.requests,
        "concurrency": args.concurrency,
        "prompts_received": len(received),
        "markers_in_another_users_prompt": leaks,
        "prompts_with_own_marker": round(own / max(len(received), 1), 3),
        "proxy": {
            "throughput_rps": round(total / through_s, 1),
            "median_ms": round(statistics.median(through), 1),
            "p95_ms": round(_p95(through), 1),
        },
        "direct": {
            "throughput_rps": round(total / direct_s, 1),
            "median_ms": round(statistics.median(direct), 1),
            "p95_ms": round(_p95(direct), 1),
        },
    }
    figures["added_ms"] = {
        "median": round(figures["proxy"]["median_ms"] - figures["direct"]["median_ms"], 1),
        "p95": round(figures["proxy"]["p95_ms"] - figures["direct"]["p95_ms"], 1),
    }
    print(json.dumps(figures, indent=2))
    if leaks:
        raise SystemExit(f"{leaks} markers reached another user's prompt")


if __name__ == "__main__":
    main()
