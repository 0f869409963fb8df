"""Business rules. Services raise chalicelib.errors; they never see botocore or build HTTP responses."""
