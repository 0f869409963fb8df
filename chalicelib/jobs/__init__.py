"""Background jobs: domain events published once, consumed idempotently in bounded chunks.

``publish(type, event_id, payload)`` writes the event's outbox row with a condition on its id (a second publish
of the same id does nothing) and sends one job per consumer (``registry.CONSUMERS``) to the jobs queue. The
worker (:mod:`chalicelib.jobs.worker`) runs each job; a consumer that has more to do returns a cursor and the
worker enqueues the continuation rather than looping. See docs/jobs.md.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from pynamodb.transactions import TransactWrite

from chalicelib import aws
from chalicelib.config import get_settings
from chalicelib.jobs import registry
from chalicelib.logs import get_logger
from chalicelib.models.base import PutError, at_epoch, condition_failed, epoch, now
from chalicelib.models.jobs import UNDISPATCHED, JobEvent

log = get_logger(__name__)
EVENT_RETENTION_SECONDS = 30 * 24 * 3600  # the outbox row outlives its cascade; redeliveries still find it
COMPLETE = "_complete"  # the consumer name of an event's completion job
RELAY_MIN_AGE_SECONDS = 60  # the relay leaves younger rows to the publish that is (probably) still sending them


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


def outbox_row(event_type: str, event_id: str, payload: dict[str, Any]) -> JobEvent:
    """The ``job_events`` row of a new event: its consumers pending, not dispatched yet (the relay's index)."""
    return JobEvent(
        event_id=event_id,
        type=event_type,
        payload=payload,
        pending=set(registry.consumers_of(event_type)) or None,
        undispatched=UNDISPATCHED,
        expires_at=at_epoch(epoch() + EVENT_RETENTION_SECONDS),
    )


def publish_in(tx: TransactWrite, event_type: str, event_id: str, payload: dict[str, Any]) -> JobEvent:
    """Add the event's outbox row to ``tx`` (the transaction of the state change that causes it), so the change
    and the event commit together. After the commit call :func:`dispatch` with the returned row; if that fails
    (or the process dies first) the relay sends it. The transaction fails if ``event_id`` was published."""
    row = outbox_row(event_type, event_id, payload)
    tx.save(row, condition=JobEvent.event_id.does_not_exist())
    return row


def publish(event_type: str, event_id: str, payload: dict[str, Any]) -> bool:
    """Publish a domain event once (when no state change goes with it). False if ``event_id`` was published
    before. The event counts as published once its row is written: a failed send is left to the relay."""
    row = outbox_row(event_type, event_id, payload)
    try:
        row.save(condition=JobEvent.event_id.does_not_exist())
    except PutError as exc:
        if not condition_failed(exc):
            raise
        return False
    dispatch(row)
    return True


def dispatch(row: JobEvent, *, relayed: bool = False) -> bool:
    """Send the first job of each consumer of an outbox row and clear its ``undispatched`` mark. A failure is
    logged, not raised: the row stays in the relay's index and :func:`relay` sends it later (a duplicate job is
    dropped by the worker)."""
    consumers = registry.consumers_of(row.type)
    jobs = [Job(row.type, row.event_id, name) for name in consumers]
    if not consumers and row.type in registry.ON_COMPLETE:
        jobs.append(Job(row.type, row.event_id, COMPLETE))
    try:
        enqueue(jobs)
        JobEvent(event_id=row.event_id).update(
            actions=[JobEvent.dispatched.set(True), JobEvent.undispatched.remove()],
            condition=JobEvent.event_id.exists(),
        )
    except Exception:
        log.warning(
            "domain event not sent; the relay will send it",
            exc_info=True,
            extra={"fields": {"event_id": row.event_id, "type": row.type, "relayed": relayed}},
        )
        return False
    return True


def relay(min_age_seconds: int = RELAY_MIN_AGE_SECONDS, limit: int = 100) -> int:
    """Send the events whose rows were written but not dispatched ``min_age_seconds`` ago (a publish that failed
    to send, or died before it could). Run every minute (``app.relay_jobs``; the local app host runs it too).
    Returns how many were sent."""
    cutoff = now() - timedelta(seconds=min_age_seconds)
    keys = JobEvent.by_undispatched.query(UNDISPATCHED, JobEvent.created_at <= cutoff, limit=limit)
    sent = 0
    for key in keys:
        try:
            row = JobEvent.get(key.event_id, consistent_read=True)
        except JobEvent.DoesNotExist:
            continue
        if row.undispatched is not None and dispatch(row, relayed=True):
            sent += 1
    if sent:
        log.info("relayed undispatched domain events", extra={"fields": {"count": sent}})
    return sent


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


def transaction() -> TransactWrite:
    """A DynamoDB transaction for a state change and its event (``with jobs.transaction() as tx:``)."""
    return TransactWrite(connection=JobEvent._get_connection().connection)
