"""The local stack's moto server (``python -m infrastructure.local.moto_host``, as the devstack runs it) applies each
DynamoDB request atomically, as DynamoDB does (``infrastructure/local/moto_atomic.py``).

Stock moto restores whole tables from a snapshot when a transaction is cancelled, and a snapshot taken while another
request is half-way through its transaction holds part of it: on the local stack, a replayed Stripe event's booking
of an invoice already booked (its ledger transaction exists: cancelled) racing the tip's booking left a creator's
pending balance 810 cents above their earnings stats, with the ledger check still balanced."""

from __future__ import annotations

import subprocess
import sys
import threading

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.local.conftest import AWS_TEST_ENV, REPO_ROOT
from tests.servers import spawn_on_free_port

THREADS = 8
ROUNDS = 30


def _answers(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/moto-api/config", timeout=1).ok
    except requests.RequestException:
        return False


@pytest.fixture
def moto_host(aws_test_env):
    proc, port = spawn_on_free_port(
        lambda port: [sys.executable, "-m", "infrastructure.local.moto_host", "--port", str(port)],
        _answers,
        timeout=30,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _table(client, name: str) -> None:
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _add(table: str, key: str) -> dict:
    return {
        "Update": {
            "TableName": table,
            "Key": {"k": {"S": key}},
            "UpdateExpression": "ADD n :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }


def test_a_cancelled_transaction_never_undoes_or_leaks_a_concurrent_one(moto_host):
    """Half the threads replay a booking already posted (its transaction's conditional put fails: cancelled, it
    must change nothing), half post new ones (each ADDs the balance and the stats, in two tables): the balance and
    the stats both end at exactly the number of new postings."""
    config = Config(max_pool_connections=THREADS * 2, retries={"max_attempts": 0})
    client = boto3.client(
        "dynamodb", endpoint_url=moto_host, region_name=AWS_TEST_ENV["AWS_DEFAULT_REGION"], config=config
    )
    _table(client, "ledger")
    _table(client, "stats")
    client.put_item(TableName="ledger", Item={"k": {"S": "tx:posted"}})
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []
    posted = []

    def replay() -> None:
        duplicate = {
            "Put": {
                "TableName": "ledger",
                "Item": {"k": {"S": "tx:posted"}},
                "ConditionExpression": "attribute_not_exists(k)",
            }
        }
        for _ in range(ROUNDS):
            try:
                client.transact_write_items(TransactItems=[duplicate, _add("ledger", "balance"), _add("stats", "all")])
            except ClientError as exc:
                assert exc.response["Error"]["Code"] == "TransactionCanceledException"
            else:
                raise AssertionError("a replayed posting was written")

    def post(worker: int) -> None:
        for n in range(ROUNDS):
            tx = {"Put": {"TableName": "ledger", "Item": {"k": {"S": f"tx:{worker}:{n}"}}}}
            client.transact_write_items(TransactItems=[tx, _add("ledger", "balance"), _add("stats", "all")])
            posted.append(1)

    def run(work, *args) -> None:
        try:
            barrier.wait(timeout=30)
            work(*args)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(replay,) if i % 2 else (post, i)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]

    def value(table: str, key: str) -> int:
        item = client.get_item(TableName=table, Key={"k": {"S": key}}, ConsistentRead=True).get("Item") or {}
        return int(item.get("n", {}).get("N", 0))

    assert len(posted) == THREADS // 2 * ROUNDS
    assert (value("ledger", "balance"), value("stats", "all")) == (len(posted), len(posted))
