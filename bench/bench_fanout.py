"""Realtime fan-out through the real local stack (API, WebSocket gateway, moto): deliver one notification to
N = 100 / 1,000 open connections of one user, and a chat message to one connection.

For each N: open N WebSocket connections for user B, have a fresh user follow B (a `followed` notification,
pushed to every connection of B), and time from just before the HTTP request to each frame's receipt.
Prints deliveries per second and p50/p99 write-to-receipt latency; then the same latency for chat messages
(A sends over its WebSocket, B's single connection receives). Loopback only; bounded; stops by itself.

Run: python bench/bench_fanout.py [--sizes 100,1000] [--trials 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import time
from pathlib import Path

import requests
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
PASSWORD = "correct horse battery"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Client:
    def __init__(self, stack):
        self.stack = stack

    def post(self, path: str, body=None, token: str | None = None) -> dict:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = requests.post(self.stack.api_url + path, json=body, headers=headers, timeout=60)
        r.raise_for_status()
        return r.json() if r.content else {}

    def user(self, username: str) -> dict:
        email = f"{username}@example.com"
        self.post("/auth/signup", {"email": email, "username": username, "password": PASSWORD})
        for mail in reversed(requests.get(self.stack.emails_url, timeout=10).json()["items"]):
            if email in mail["to"]:
                code = re.search(r"\b(\d{6})\b", mail["text"]).group(1)
                break
        self.post("/auth/verify-email", {"email": email, "code": code})
        tokens = self.post("/auth/login", {"login": username, "password": PASSWORD})
        return {"username": username, "token": tokens["access_token"], "id": tokens["user"]["id"]}


async def open_connections(url: str, n: int) -> list:
    sockets = []
    for start in range(0, n, 50):  # connect in waves so the gateway's $connect handlers keep up
        sockets += await asyncio.gather(
            *(connect(url, open_timeout=60, max_queue=None) for _ in range(start, min(n, start + 50)))
        )
    return sockets


async def wait_for(ws, kind: str, started: float) -> float:
    while True:
        frame = json.loads(await ws.recv())
        if frame.get("type") == kind:
            return time.perf_counter() - started


async def fanout(client: Client, target: dict, n: int, trials: int) -> None:
    sockets = await open_connections(f"{client.stack.ws_url}/?token={target['token']}", n)
    try:
        latencies: list[float] = []
        rates = []
        for trial in range(trials):
            actor = await asyncio.to_thread(client.user, f"fan{n}x{trial}")
            started = time.perf_counter()
            waiters = [asyncio.create_task(wait_for(ws, "notification", started)) for ws in sockets]
            await asyncio.to_thread(client.post, f"/users/{target['id']}/follow", None, actor["token"])
            got = await asyncio.wait_for(asyncio.gather(*waiters), timeout=120)
            latencies += got
            rates.append(n / max(got))
        print(
            f"  N={n:>5}: {statistics.median(rates):8.0f} deliveries/s   p50 {pct(latencies, 50) * 1000:7.1f} ms"
            f"   p99 {pct(latencies, 99) * 1000:7.1f} ms   (write to receipt, {trials} notifications)"
        )
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets))


async def chat(client: Client, a: dict, b: dict, messages: int) -> None:
    conversation = await asyncio.to_thread(client.post, "/conversations", {"username": b["username"]}, a["token"])
    async with (
        connect(f"{client.stack.ws_url}/?token={a['token']}") as a_ws,
        connect(f"{client.stack.ws_url}/?token={b['token']}") as b_ws,
    ):
        latencies = []
        for i in range(messages):
            started = time.perf_counter()
            await a_ws.send(
                json.dumps({"action": "send_message", "conversation_id": conversation["id"], "body": f"message {i}"})
            )
            latencies.append(await asyncio.wait_for(wait_for(b_ws, "message", started), timeout=30))
        print(
            f"  chat:    {messages / sum(latencies):8.0f} messages/s    p50 {pct(latencies, 50) * 1000:7.1f} ms"
            f"   p99 {pct(latencies, 99) * 1000:7.1f} ms   (WebSocket send to the other participant's receipt)"
        )


async def main_async(args) -> None:
    from infrastructure.local.stack import start_stack

    with start_stack(timeout=120) as stack:
        client = Client(stack)
        target = await asyncio.to_thread(client.user, "fanout_target")
        print("realtime fan-out through the local stack (moto + local WebSocket gateway, loopback)")
        for n in args.sizes:
            await fanout(client, target, n, args.trials)
        a = await asyncio.to_thread(client.user, "chat_a")
        await chat(client, a, target, args.messages)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[100, 1000])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--messages", type=int, default=50)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
