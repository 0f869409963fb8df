"""Lightbox: wiring only. The API's routes (one module per resource, loaded lazily), one error-normalising
middleware, the cascades between services, the WebSocket handlers and the upload processor.

The upload processor is its own Lambda function (fed by S3 -> SQS); it imports Pillow lazily, so the API
function never pays for it. WebSocket handlers are declared on the app (not a blueprint: Chalice registers
blueprint websocket handlers unwrapped) and delegate to ``chalicelib.realtime``.
"""

from chalice import Chalice

from chalicelib import logs
from chalicelib.api import routing
from chalicelib.config import get_settings
from chalicelib.realtime import push
from chalicelib.services import accounts, blocks, devices, notifications
from chalicelib.services import chat as chat_service
from chalicelib.services import engagement as engagement_service
from chalicelib.services import events as events_service
from chalicelib.services import photos as photos_service
from chalicelib.services import social as social_service

logs.configure()
app = Chalice(app_name="lightbox", configure_logs=False)  # its logger goes through our JSON handler
app.experimental_feature_flags.update(["WEBSOCKETS"])  # chalice package refuses WebSocket handlers without it
app.log = logs.get_logger("lightbox")
app.register_middleware(routing.normalize_error_middleware, "http")
if get_settings().xray_patch:
    from chalicelib import tracing

    tracing.enable()

routing.mount(app)  # every route of chalicelib/api/manifest.py; each blueprint module loads on first use

# Cascades between services: deleting an account or an event removes what belongs to it, files included.
accounts.DELETION_HOOKS.append(photos_service.purge_user_photos)
accounts.DELETION_HOOKS.append(events_service.on_user_deleted)
accounts.DELETION_HOOKS.append(social_service.on_user_deleted)
accounts.DELETION_HOOKS.append(blocks.on_user_deleted)
accounts.DELETION_HOOKS.append(chat_service.on_user_deleted)
accounts.DELETION_HOOKS.append(engagement_service.on_user_deleted)
accounts.DELETION_HOOKS.append(devices.on_user_deleted)
accounts.DELETION_HOOKS.append(notifications.on_user_deleted)
accounts.DELETION_HOOKS.append(push.disconnect_user)
photos_service.PURGE_HOOKS.append(engagement_service.on_photos_deleted)
events_service.DELETE_HOOKS.append(photos_service.purge_event_photos)
events_service.VISIBILITY_HOOKS.append(photos_service.on_event_visibility_change)


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
