"""moto server on 127.0.0.1, with a send time on every SES message it stores.

moto keeps sent mail in memory (``/moto-api/data.json`` lists it under ``ses``) but records no time.
This host stamps ``sent_at`` (ISO 8601 UTC) and ``sent_seq`` (send order) on each stored message, so
``GET /_local/emails`` can show when mail went out, and adds ``GET /moto-api/lightbox/ses-messages``:
the same ``ses`` section of ``data.json`` without serialising every other model (``data.json`` reads
every S3 object's bytes on each call). Each DynamoDB request is atomic, as in DynamoDB
(``infrastructure/local/moto_atomic.py``: stock moto server loses writes under concurrent transactions).
Everything else is stock ``moto.server``.

    python -m infrastructure.local.moto_host --port 5000
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
from typing import Any

from infrastructure.local import moto_atomic
from infrastructure.local.common import LOOPBACK, iso_utc

_sequence = itertools.count(1)


def stamp_ses_messages() -> None:
    from moto.ses import models

    for cls in (models.Message, models.RawMessage, models.TemplateMessage, models.BulkTemplateMessage):
        original = cls.__init__
        if getattr(original, "_lightbox_stamped", False):
            continue

        @functools.wraps(original)
        def __init__(self, *args, __original=original, **kwargs):
            __original(self, *args, **kwargs)
            self.sent_at = iso_utc()
            self.sent_seq = next(_sequence)

        __init__._lightbox_stamped = True
        cls.__init__ = __init__


SES_MESSAGES_PATH = "/moto-api/lightbox/ses-messages"
_MESSAGE_FIELDS = (
    "id",
    "ids",
    "source",
    "subject",
    "body",
    "destinations",
    "raw_data",
    "template",
    "template_data",
    "sent_at",
    "sent_seq",
)


def ses_messages(request: Any, full_url: str, headers: Any) -> tuple[int, dict, str]:
    """Every message moto's SES stored, grouped by model class like ``data.json``'s ``ses``."""
    from moto.ses import models

    grouped: dict[str, list[dict]] = {}
    for cls in (models.Message, models.RawMessage, models.TemplateMessage, models.BulkTemplateMessage):
        grouped[cls.__name__] = [
            {name: getattr(message, name) for name in _MESSAGE_FIELDS if hasattr(message, name)}
            for message in list(cls.instances_tracked)
        ]
    return 200, {"Content-Type": "application/json"}, json.dumps({"ses": grouped}, default=str)


def add_ses_messages_route() -> None:
    from moto.moto_api._internal import urls

    urls.url_paths["{0}" + SES_MESSAGES_PATH] = ses_messages


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    stamp_ses_messages()
    add_ses_messages_route()
    moto_atomic.install()
    from moto import server

    server.main(["--host", LOOPBACK, "--port", str(args.port)])


if __name__ == "__main__":
    main()
