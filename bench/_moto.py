"""What the moto-in-process benchmarks share: every boto3 client counts its calls, inside ``mock_aws``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import tests.conftest as harness  # sets the test environment: stage, cheap argon2, moto keys


@contextlib.contextmanager
def counted_moto() -> Iterator[harness.CallCounter]:
    """moto in process, with every client made inside it recording "<service>.<Operation>" in the counter."""
    import botocore.client
    from moto import mock_aws

    counter = harness.CallCounter()
    original = botocore.client.ClientCreator.create_client

    def create_client(self, *a, **kw):
        client = original(self, *a, **kw)
        client.meta.events.register("before-call.*.*", counter.hook)
        return client

    botocore.client.ClientCreator.create_client = create_client  # type: ignore[method-assign]
    try:
        with mock_aws():
            yield counter
    finally:
        botocore.client.ClientCreator.create_client = original  # type: ignore[method-assign]
