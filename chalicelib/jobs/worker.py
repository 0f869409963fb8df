"""The jobs worker: SQS (the jobs queue) -> this handler, in batches with partial failures.

Per message (a :class:`chalicelib.jobs.Job`):
1. claim the chunk on the event's outbox row with one conditional update: the consumer must still be pending and
   this chunk must not have been taken by another message (a redelivery of the same message may retake it).
   A duplicate (a second publish, a continuation enqueued twice, a redelivery of a chunk that finished) fails
   the condition and is dropped.
2. run the consumer for at most ``job_chunk_size`` items;
3. a returned cursor enqueues the continuation (step + 1); None removes the consumer from ``pending``, and the
   last one to finish enqueues the event's completion job (``registry.ON_COMPLETE``).
A failure is reported as a batch item failure (only that message is retried); on its last delivery it is logged
as ``job dead-lettered`` and SQS moves it to the jobs DLQ (alarmed in AWS, ``GET /_local/jobs`` locally).
"""

from __future__ import annotations

from typing import Any

from chalicelib import jobs
from chalicelib.jobs import COMPLETE, Job, registry
from chalicelib.logs import get_logger
from chalicelib.models.base import UpdateError, condition_failed, now
from chalicelib.models.jobs import JobEvent
from chalicelib.resources import JOBS_QUEUE_MAX_RECEIVES

log = get_logger(__name__)
TIME_MARGIN_MS = 20_000  # a chunk (job_chunk_size items) must fit in this; the worker's timeout is 60 s
DONE = "done"  # step_messages value once a chunk finished (no SQS message id looks like it)


def handle_batch(records: list[dict[str, Any]], context: Any = None) -> dict[str, Any]:
    """``context`` is the Lambda context: once less than ``TIME_MARGIN_MS`` is left, the messages not started are
    reported as failures (SQS redelivers them) rather than risking a timeout that would lose the whole report."""
    failures: list[dict[str, str]] = []
    for index, record in enumerate(records):
        message_id = record.get("messageId", "")
        if context is not None and context.get_remaining_time_in_millis() < TIME_MARGIN_MS:
            left = [r.get("messageId", "") for r in records[index:]]
            log.warning("worker out of time; jobs left for redelivery", extra={"fields": {"count": len(left)}})
            failures.extend({"itemIdentifier": m} for m in left)
            break
        try:
            job = Job.parse(record.get("body", ""))
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed job message", extra={"fields": {"message_id": message_id}})
            continue
        try:
            run(job, message_id)
        except Exception:
            fields = {"message_id": message_id, "type": job.type, "event_id": job.event_id, "consumer": job.consumer}
            receives = int((record.get("attributes") or {}).get("ApproximateReceiveCount", "1") or 1)
            if receives >= JOBS_QUEUE_MAX_RECEIVES:
                log.exception("job dead-lettered", extra={"fields": {**fields, "step": job.step}})
            else:
                log.exception("job failed; it will be retried", extra={"fields": fields})
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}


def run(job: Job, message_id: str) -> None:
    if job.consumer == COMPLETE:
        _complete(job)
        return
    row = _claim(job, message_id)
    if row is None:
        return
    payload = row.payload.as_dict() if row.payload else {}
    cursor = registry.consumer(job.type, job.consumer)(payload, job.cursor, jobs.chunk_size())
    if cursor is not None:
        jobs.enqueue([job.then(cursor)])
        _mark_done(job, message_id)
        return
    row.update(actions=[JobEvent.pending.delete({job.consumer})])
    if not row.pending:
        _after_all(row)


def _claim(job: Job, message_id: str) -> JobEvent | None:
    step = JobEvent.steps[job.consumer]
    taken_by = JobEvent.step_messages[job.consumer]
    row = JobEvent(event_id=job.event_id)
    try:
        row.update(
            actions=[step.set(job.step), taken_by.set(message_id)],
            condition=JobEvent.pending.contains(job.consumer)
            & (step.does_not_exist() | (step < job.step) | ((step == job.step) & (taken_by == message_id))),
        )
        return row
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
    log.info(
        "duplicate or finished job dropped",
        extra={"fields": {"event_id": job.event_id, "consumer": job.consumer, "step": job.step}},
    )
    try:  # the last consumer may have finished without its completion job being sent: send it now
        existing = JobEvent.get(job.event_id, consistent_read=True)
    except JobEvent.DoesNotExist:
        return None
    if not existing.pending:
        _after_all(existing)
    return None


def _mark_done(job: Job, message_id: str) -> None:
    """The chunk is done and its continuation sent: a redelivery of this message must not take it again."""
    step = JobEvent.steps[job.consumer]
    taken_by = JobEvent.step_messages[job.consumer]
    try:
        JobEvent(event_id=job.event_id).update(
            actions=[taken_by.set(DONE)], condition=(step == job.step) & (taken_by == message_id)
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise  # (a failed condition: the continuation has already taken the next chunk)


def _after_all(row: JobEvent) -> None:
    if row.type in registry.ON_COMPLETE and row.completed_at is None:
        jobs.enqueue([Job(row.type, row.event_id, COMPLETE)])


def _complete(job: Job) -> None:
    try:
        row = JobEvent.get(job.event_id, consistent_read=True)
    except JobEvent.DoesNotExist:
        return
    if row.completed_at is not None or row.pending or job.type not in registry.ON_COMPLETE:
        return
    registry.resolve(registry.ON_COMPLETE[job.type])(row.payload.as_dict() if row.payload else {})
    row.update(actions=[JobEvent.completed_at.set(now())])
    log.info("domain event completed", extra={"fields": {"event_id": job.event_id, "type": job.type}})
