"""A small Chalice app with the real app's shape, for testing the local stack before/without app.py.

Module-level handlers named as app.py names them; AWS clients built from the same environment the
devstack gives the real app.
"""

from __future__ import annotations

import json
import os

import boto3
from chalice import Chalice

app = Chalice(app_name="standin")
QUEUE_NAME = "standin-uploads"
SENDER = os.environ.get("LIGHTBOX_EMAIL_SENDER", "no-reply@lightbox.local")


def _aws(service):
    return boto3.client(
        service, endpoint_url=os.environ["LIGHTBOX_AWS_ENDPOINT_URL"], region_name=os.environ["AWS_DEFAULT_REGION"]
    )


def _send_email(to, subject, text):
    _aws("ses").send_email(
        Source=SENDER,
        Destination={"ToAddresses": [to]},
        Message={"Subject": {"Data": subject}, "Body": {"Text": {"Data": text}}},
    )


def ensure_resources():
    url = _aws("sqs").create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
    _aws("ses").verify_email_identity(EmailAddress=SENDER)
    return {"upload_queue_url": url}


@app.route("/health")
def health():
    return {"status": "ok", "stage": os.environ.get("LIGHTBOX_STAGE")}


@app.on_ws_connect()
def ws_connect(event):
    token = (event.to_dict().get("queryStringParameters") or {}).get("token")
    return {"statusCode": 200 if token == "good" else 401}


@app.on_ws_message()
def ws_message(event):
    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=os.environ["LIGHTBOX_WS_ENDPOINT"],
        region_name=os.environ["AWS_DEFAULT_REGION"],
    )
    client.post_to_connection(
        ConnectionId=event.connection_id, Data=json.dumps({"type": "echo", "body": event.body}).encode()
    )


@app.on_ws_disconnect()
def ws_disconnect(event):
    return None


@app.on_sqs_message(queue=QUEUE_NAME, batch_size=10)
def process_upload_queue(event):
    failures = []
    for record in event:
        raw = record.to_dict()
        if record.body == "fail":
            failures.append({"itemIdentifier": raw["messageId"]})
            continue
        _send_email(
            "uploader@example.com",
            f"processed {record.body}",
            f"receive count {raw['attributes']['ApproximateReceiveCount']}",
        )
    return {"batchItemFailures": failures}
