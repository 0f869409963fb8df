"""The atomicity guard every concurrency test and the local stack's moto server rely on
(infrastructure/local/moto_atomic.py): on without asking for it, and it covers each whole DynamoDB request (not just
the backend call inside it)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend

from infrastructure.local import moto_atomic


@pytest.fixture
def table():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def test_every_dynamodb_request_runs_inside_the_guard_without_a_fixture(table, monkeypatch):
    """No test has to ask for the guard: each operation's table lookup happens while the request holds it."""
    seen: list[bool] = []
    original = DynamoDBBackend.get_table

    def get_table(self, name):
        seen.append(moto_atomic.held())
        return original(self, name)

    monkeypatch.setattr(DynamoDBBackend, "get_table", get_table)
    key = {"k": {"S": "a"}}
    requests = [
        lambda: table.put_item(TableName="t", Item={**key, "n": {"N": "0"}}),
        lambda: table.get_item(TableName="t", Key=key),
        lambda: table.update_item(
            TableName="t", Key=key, UpdateExpression="ADD n :one", ExpressionAttributeValues={":one": {"N": "1"}}
        ),
        lambda: table.query(TableName="t", KeyConditionExpression="k = :k", ExpressionAttributeValues={":k": key["k"]}),
        lambda: table.scan(TableName="t"),
        lambda: table.batch_get_item(RequestItems={"t": {"Keys": [key]}}),
        lambda: table.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": {"k": {"S": "b"}}}}]}),
        lambda: table.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": {"k": {"S": "c"}}}}]),
        lambda: table.transact_get_items(TransactItems=[{"Get": {"TableName": "t", "Key": key}}]),
        lambda: table.delete_item(TableName="t", Key=key),
    ]
    for request in requests:
        before = len(seen)
        request()
        assert len(seen) > before, "the operation never looked its table up"
    assert all(seen), "a DynamoDB request ran (partly) outside the guard"
    assert not moto_atomic.held()


def test_concurrent_adds_each_see_their_own_result(table):
    """ADD with ReturnValues from many threads at once: DynamoDB answers each with the count it produced."""
    key = {"k": {"S": "counter"}}
    barrier = threading.Barrier(16)

    def add(_):
        barrier.wait(timeout=30)
        result = table.update_item(
            TableName="t",
            Key=key,
            UpdateExpression="ADD n :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
        return int(result["Attributes"]["n"]["N"])

    with ThreadPoolExecutor(max_workers=16) as pool:
        counts = list(pool.map(add, range(16)))
    assert sorted(counts) == list(range(1, 17))
    assert table.get_item(TableName="t", Key=key)["Item"]["n"] == {"N": "16"}
