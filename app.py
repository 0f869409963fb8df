"""Lightbox: wiring only. The API's routes (one module per resource, loaded lazily), one error-normalising
middleware, the WebSocket handlers, the upload processor and the jobs worker.

The upload processor is its own Lambda function (fed by S3 -> SQS); it imports Pillow lazily, so the API
function never pays for it. WebSocket handlers are declared on the app (not a blueprint: Chalice registers
blueprint websocket handlers unwrapped) and delegate to ``chalicelib.realtime``. The cascades between services
(account and event deletion, visibility changes, fan-out) are domain events consumed by the jobs worker; who
consumes what is ``chalicelib.jobs.registry``, so nothing depends on this module having been imported.
"""

from chalice import Chalice, Rate

from chalicelib import logs
from chalicelib.api import routing
from chalicelib.config import get_settings

logs.configure()
app = Chalice(app_name="lightbox", configure_logs=False)  # its logger goes through our JSON handler
app.experimental_feature_flags.update(["WEBSOCKETS"])  # chalice package refuses WebSocket handlers without it
app.log = logs.get_logger("lightbox")
app.register_middleware(routing.normalize_error_middleware, "http")
if get_settings().xray_patch:
    from chalicelib import tracing

    tracing.enable()

routing.mount(app)  # every route of chalicelib/api/manifest.py; each blueprint module loads on first use


@app.on_ws_connect()
def ws_connect(event):
    from chalicelib.realtime import handlers  # only the WebSocket function loads it (as the SQS handlers do)

    return handlers.on_connect(event)


@app.on_ws_disconnect()
def ws_disconnect(event):
    from chalicelib.realtime import handlers

    return handlers.on_disconnect(event)


@app.on_ws_message()
def ws_message(event):
    from chalicelib.realtime import handlers

    return handlers.on_message(event)


@app.on_sqs_message(queue=get_settings().upload_queue_name, batch_size=10)
def process_upload_queue(event):
    from chalicelib.triggers import uploads

    return uploads.handle_batch(event.to_dict()["Records"])


@app.on_sqs_message(queue=get_settings().video_queue_name, batch_size=1)
def process_video_queue(event):
    from chalicelib.triggers import videos

    return videos.handle_batch(event.to_dict()["Records"], getattr(event, "context", None))


@app.on_sqs_message(queue=get_settings().jobs_queue_name, batch_size=10)
def run_jobs(event):
    from chalicelib.jobs import worker

    return worker.handle_batch(event.to_dict()["Records"], getattr(event, "context", None))


@app.schedule(Rate(1, unit=Rate.MINUTES))
def relay_jobs(event):
    from chalicelib import jobs
    from chalicelib.jobs import sweeps

    return {"sent": jobs.relay(), "sweeps": sweeps.tick()}
