"""Event-source handlers (SQS, S3 via SQS). Each is idempotent: events arrive more than once, out of order."""
