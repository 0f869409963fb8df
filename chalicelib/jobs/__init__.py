"""Background jobs: domain events published once, consumed idempotently in bounded chunks.

``publish(type, event_id, payload)`` writes the event's outbox row with a condition on its id (a second publish
of the same id does nothing) and sends one job per consumer (``registry.CONSUMERS``) to the jobs queue. The
worker (:mod:`chalicelib.jobs.worker`) runs each job; a consumer that has more to do returns a cursor and the
worker enqueues the continuation rather than looping. See docs/jobs.md.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from chalicelib import aws
from chalicelib.config import get_settings
from chalicelib.jobs import registry
from chalicelib.logs import get_logger
from chalicelib.models.base import PutError, at_epoch, condition_failed, epoch
from chalicelib.models.jobs import JobEvent

log = get_logger(__name__)
EVENT_RETENTION_SECONDS = 30 * 24 * 3600  # the outbox row outlives its cascade; redeliveries still find it
COMPLETE = "_complete"  # the consumer name of an event's completion job


@dataclass(frozen=True)
class Job:
    """One job message: run ``consumer`` of event ``event_id`` from ``cursor``; ``step`` counts its chunks."""

    type: str
    event_id: str
    consumer: str
    step: int = 0
    cursor: Any = None

    def body(self) -> str:
        return json.dumps({"v": 1, **asdict(self)}, separators=(",", ":"), default=str)

    @classmethod
    def parse(cls, body: str) -> Job:
        data = json.loads(body)
        if not isinstance(data, dict) or data.get("v") != 1:
            raise ValueError("not a job message")
        return cls(str(data["type"]), str(data["event_id"]), str(data["consumer"]), int(data["step"]), data["cursor"])

    def then(self, cursor: Any) -> Job:
        return Job(self.type, self.event_id, self.consumer, self.step + 1, cursor)


def publish(event_type: str, event_id: str, payload: dict[str, Any]) -> bool:
    """Publish a domain event once. False if ``event_id`` was published (and dispatched) before."""
    consumers = registry.consumers_of(event_type)
    row = JobEvent(
        event_id=event_id,
        type=event_type,
        payload=payload,
        pending=set(consumers) or None,
        expires_at=at_epoch(epoch() + EVENT_RETENTION_SECONDS),
    )
    try:
        row.save(condition=JobEvent.event_id.does_not_exist())
    except PutError as exc:
        if not condition_failed(exc):
            raise
        row = JobEvent.get(event_id, consistent_read=True)
        if row.dispatched:
            return False
        # An earlier publish wrote the row but died before sending: send again (duplicates are dropped).
    jobs = [Job(event_type, event_id, name) for name in consumers]
    if not consumers and event_type in registry.ON_COMPLETE:
        jobs.append(Job(event_type, event_id, COMPLETE))
    enqueue(jobs)
    row.update(actions=[JobEvent.dispatched.set(True)])
    return True


def enqueue(jobs: list[Job]) -> None:
    if not jobs:
        return
    sqs = aws.client("sqs")
    url = aws.queue_url(get_settings().jobs_queue_name)
    for start in range(0, len(jobs), 10):
        chunk = jobs[start : start + 10]
        result = sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": job.body()} for i, job in enumerate(chunk)]
        )
        if result.get("Failed"):
            raise RuntimeError(f"jobs not enqueued: {result['Failed']}")


def chunk_size() -> int:
    return max(1, get_settings().job_chunk_size)
