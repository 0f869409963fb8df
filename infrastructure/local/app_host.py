"""One process that hosts the Chalice app the way AWS would: HTTP API, WebSocket API, SQS event source.

The app module is imported once; its module-level Lambda handlers are the ones invoked:
``ws_connect`` / ``ws_message`` / ``ws_disconnect`` behind the WebSocket gateway and
``process_upload_queue`` behind the SQS poller, ``process_video_queue`` behind the video poller (one message
at a time) and ``run_jobs`` behind a third poller on the jobs queue.
Started by ``devstack`` with the environment set; stops on SIGINT/SIGTERM, and exits non-zero if one of its
servers dies.

    python -m infrastructure.local.app_host --api-port 8000 --ws-port 8001 \\
        --moto-url http://127.0.0.1:5000 --upload-queue-url http://127.0.0.1:5000/123456789012/q
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import threading
import time
from typing import Any

from infrastructure.local.common import LOOPBACK

log = logging.getLogger("devstack.host")

WS_HANDLERS = ("ws_connect", "ws_message", "ws_disconnect")
QUEUE_HANDLER = "process_upload_queue"
VIDEO_HANDLER = "process_video_queue"  # one message per batch, as its event source mapping (batch size 1)
JOBS_HANDLER = "run_jobs"
RELAY_EVERY_SECONDS = 60.0  # app.relay_jobs runs every minute on AWS


def _handler(module: Any, name: str) -> Any | None:
    found = getattr(module, name, None)
    if found is None:
        log.warning("%s.%s is not defined; that part of the local stack does nothing", module.__name__, name)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Host the Chalice app locally.")
    parser.add_argument("--app", default="app", help="module defining `app` and the handlers")
    parser.add_argument("--api-port", type=int, required=True)
    parser.add_argument("--ws-port", type=int, required=True)
    parser.add_argument("--moto-url", required=True)
    parser.add_argument("--upload-queue-url", default=None)
    parser.add_argument("--video-queue-url", default=None)
    parser.add_argument("--jobs-queue-url", default=None)
    parser.add_argument("--jobs-dlq-url", default=None, help="listed at GET /_local/jobs")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("LIGHTBOX_LOCAL_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    stop = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        log.info("signal %s: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    sys.path.insert(0, os.getcwd())
    module = importlib.import_module(args.app)

    import boto3
    from botocore.config import Config

    from infrastructure.local.api_server import ApiServer
    from infrastructure.local.gateway import GatewayServer, create_gateway_app
    from infrastructure.local.sqs_poller import SqsPoller

    app_name = getattr(module.app, "app_name", "app")
    sqs = boto3.client(
        "sqs",
        endpoint_url=args.moto_url,
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10),
    )
    api = ApiServer(module.app, args.moto_url, LOOPBACK, args.api_port, jobs_dlq_url=args.jobs_dlq_url).start()
    gateway = GatewayServer(
        create_gateway_app(*(_handler(module, name) for name in WS_HANDLERS), function_prefix=f"{app_name}-local"),
        LOOPBACK,
        args.ws_port,
    ).start()
    parts: list[tuple[str, Any]] = [("HTTP API", api), ("WebSocket gateway", gateway)]
    # Each queue-fed function behind its own poller, the way an event source mapping feeds it on AWS.
    for label, handler_name, url, batch_size in (
        ("SQS poller", QUEUE_HANDLER, args.upload_queue_url, 10),
        ("video poller", VIDEO_HANDLER, args.video_queue_url, 1),
        ("jobs poller", JOBS_HANDLER, args.jobs_queue_url, 10),
    ):
        queue_handler = _handler(module, handler_name) if url else None
        if url and queue_handler is not None:
            poller = SqsPoller(
                queue_handler, url, sqs, batch_size=batch_size, function_name=f"{app_name}-local-{handler_name}"
            ).start()
            parts.append((label, poller))
    log.info("app host ready: API %s, WebSocket %s", api.url, gateway.ws_url)

    died = None
    next_relay = time.monotonic() + RELAY_EVERY_SECONDS
    while not stop.wait(0.5):
        died = next((name for name, part in parts if not part.is_alive()), None)
        if died:
            log.error("%s stopped unexpectedly", died)
            break
        if args.jobs_queue_url and time.monotonic() >= next_relay:  # the schedule AWS runs relay_jobs on
            next_relay = time.monotonic() + RELAY_EVERY_SECONDS
            _relay_jobs()
    for _name, part in reversed(parts):
        part.stop()
    log.info("app host stopped")
    return 1 if died else 0


def _relay_jobs() -> None:
    """Send domain events whose dispatch failed (chalicelib.jobs.relay, bounded per run)."""
    try:
        from chalicelib import jobs
        from chalicelib.jobs import sweeps

        sent = jobs.relay()
        if sent:
            log.info("relay sent %s undispatched event(s)", sent)
        sweeps.tick()
    except Exception:  # the next run retries; the host must keep serving
        log.exception("job relay failed")


if __name__ == "__main__":
    sys.exit(main())
