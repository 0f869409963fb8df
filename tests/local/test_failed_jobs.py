"""GET /_local/jobs lists what the jobs dead-letter queue holds, without consuming it."""

from __future__ import annotations

import json

from moto import mock_aws


def test_failed_jobs_are_listed_and_stay_in_the_dead_letter_queue():
    import boto3

    from infrastructure.local.api_server import FailedJobsReader

    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="lightbox-local-jobs-dlq")["QueueUrl"]
        reader = FailedJobsReader("http://unused", url, sqs=sqs)
        assert reader.jobs() == {"count": 0, "items": []}
        body = {"v": 1, "type": "user.deleted", "event_id": "user.deleted:u_1", "consumer": "photos", "step": 2}
        sent = sqs.send_message(QueueUrl=url, MessageBody=json.dumps({**body, "cursor": {}}))
        for _ in range(2):  # listing twice shows the same job: it is only peeked at
            listed = reader.jobs()
            assert listed["count"] == 1
            assert listed["items"] == [{"message_id": sent["MessageId"], **body, "cursor": {}}]
    assert FailedJobsReader("http://unused", None).jobs() == {"count": 0, "items": []}
