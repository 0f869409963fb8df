"""``aws.is_transient``: which AWS failures a retry can get past (pure, no moto)."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ParamValidationError,
    ReadTimeoutError,
)
from pynamodb.exceptions import GetError, PutError, UpdateError

from chalicelib.aws import is_transient


def client_error(code: str, status: int = 400, **extra: object) -> ClientError:
    response = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}, **extra}
    return ClientError(response, "Op")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "exc,transient",
    [
        (client_error("ThrottlingException"), True),
        (client_error("ProvisionedThroughputExceededException"), True),
        (client_error("SlowDown", 503), True),
        (client_error("InternalError", 500), True),
        (client_error("Whatever", 502), True),
        (client_error("RequestTimeout"), True),
        (EndpointConnectionError(endpoint_url="https://x"), True),
        (ConnectTimeoutError(endpoint_url="https://x"), True),
        (ReadTimeoutError(endpoint_url="https://x"), True),
        (UpdateError("Failed to update item", client_error("ThrottlingException")), True),
        (GetError("Failed to get item", EndpointConnectionError(endpoint_url="https://x")), True),
        (PutError("Failed to batch write items: max_retry_attempts exceeded"), True),
        (
            client_error(
                "TransactionCanceledException",
                CancellationReasons=[{"Code": "None"}, {"Code": "TransactionConflict"}],
            ),
            True,
        ),
        (client_error("ConditionalCheckFailedException"), False),
        (UpdateError("Failed to update item", client_error("ConditionalCheckFailedException")), False),
        (client_error("AccessDenied", 403), False),
        (client_error("NoSuchKey", 404), False),
        (client_error("ValidationException"), False),
        (client_error("TransactionCanceledException", CancellationReasons=[{"Code": "ConditionalCheckFailed"}]), False),
        (ParamValidationError(report="bad"), False),
        (ValueError("malformed JPEG segment"), False),
        (MemoryError(), False),
    ],
)
def test_only_throttling_5xx_timeouts_and_connection_errors_are_transient(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


def test_a_wrapped_cause_counts() -> None:
    try:
        try:
            raise client_error("ServiceUnavailable", 503)
        except ClientError as inner:
            raise RuntimeError("storage failed") from inner
    except RuntimeError as outer:
        assert is_transient(outer)
