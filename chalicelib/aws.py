"""boto3 clients, created once per container on first use (never per request, never at import).

Every client honours ``LIGHTBOX_AWS_ENDPOINT_URL`` so the same code talks to moto server locally.
Tests reset the cache with :func:`reset` after moto starts.
"""

from __future__ import annotations

import threading
from typing import Any

from chalicelib.config import get_settings

_session: Any = None  # one boto3 session per container: each new one re-reads botocore's endpoint and model files
_clients: dict[tuple[str, str | None], Any] = {}
_secrets: dict[str, str] = {}
_queue_urls: dict[tuple[str, str | None], str] = {}
_lock = threading.Lock()


def client(service: str, endpoint_url: str | None = None) -> Any:
    key = (service, endpoint_url)
    found = _clients.get(key)
    if found is not None:
        return found
    with _lock:
        found = _clients.get(key)
        if found is None:
            from botocore.config import Config

            settings = get_settings()
            found = _boto_session().client(
                service,
                region_name=settings.region,
                endpoint_url=endpoint_url or settings.aws_endpoint_url,
                config=Config(
                    retries={"max_attempts": 3, "mode": "standard"},
                    signature_version="s3v4" if service == "s3" else None,
                ),
            )
            _clients[key] = found
    return found


def _boto_session() -> Any:
    """The container's boto3 session (called under ``_lock``): its loader caches the service models and the
    endpoint data, so the second and later clients cost a fraction of the first."""
    global _session
    if _session is None:
        import boto3

        _session = boto3.session.Session()
    return _session


def secret(literal: str | None, parameter_name: str | None) -> str:
    """A secret given literally (local, tests) or by SSM SecureString name (AWS), fetched once."""
    if literal:
        return literal
    if not parameter_name:
        raise RuntimeError("secret not configured: set the literal or the SSM parameter name")
    cached = _secrets.get(parameter_name)
    if cached is None:
        response = client("ssm").get_parameter(Name=parameter_name, WithDecryption=True)
        cached = _secrets[parameter_name] = response["Parameter"]["Value"]
    return cached


def queue_url(name: str) -> str:
    """An SQS queue's URL by name, looked up once per container."""
    key = (name, get_settings().aws_endpoint_url)
    found = _queue_urls.get(key)
    if found is None:
        found = _queue_urls[key] = client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
    return found


def reset() -> None:
    with _lock:
        _clients.clear()
        _secrets.clear()
        _queue_urls.clear()


# Error codes that mean "try again later": throttling, and AWS's own transient failures. (botocore's standard
# retry mode retries these a few times already; once those retries are spent, the caller retries the work.)
TRANSIENT_ERROR_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "TransactionInProgressException",
        "TransactionConflictException",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)
# Reasons in a cancelled DynamoDB transaction that would pass on a retry.
_TRANSIENT_CANCELLATIONS = frozenset({"ThrottlingError", "TransactionConflict", "ProvisionedThroughputExceeded"})


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps: PynamoDB's ``cause``, a ``raise ... from``) is an AWS failure that a
    later retry can get past: throttling, a 5xx, a timeout, a dropped or refused connection. Anything else
    (a missing item, a refused condition, bad input, a bug) is not."""
    from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError, IncompleteReadError

    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectionError | HTTPClientError | IncompleteReadError):
            return True
        if isinstance(current, ClientError):
            error = current.response.get("Error", {})
            status = int(current.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            if error.get("Code") in TRANSIENT_ERROR_CODES or status >= 500:
                return True
            reasons = current.response.get("CancellationReasons") or []
            if any(isinstance(r, dict) and r.get("Code") in _TRANSIENT_CANCELLATIONS for r in reasons):
                return True
            continue
        if isinstance(current, BotoCoreError):
            continue
        cause = getattr(current, "cause", None)  # PynamoDB keeps the botocore error here
        if cause is None and type(current).__module__.startswith("pynamodb") and "max_retry_attempts" in str(current):
            return True  # a batch write whose unprocessed (throttled) items were still unprocessed after retries
        pending += [cause if isinstance(cause, BaseException) else None, current.__cause__]
    return False
