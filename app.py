"""Lightbox: wiring only. Blueprints per resource, one error-normalising middleware, the WebSocket handlers.

WebSocket handlers are declared on the app (not a blueprint: Chalice registers blueprint websocket handlers
unwrapped) and delegate to ``chalicelib.realtime``.
"""
from chalice import Chalice

from chalicelib import logs
from chalicelib.api import auth, meta, users
from chalicelib.api.routing import normalize_error_middleware
from chalicelib.config import get_settings
from chalicelib.realtime import handlers as ws

logs.configure()
app = Chalice(app_name="lightbox")
app.log = logs.get_logger("lightbox")
app.register_middleware(normalize_error_middleware, "http")
if get_settings().xray_patch:
    from chalicelib import tracing

    tracing.enable()

for blueprint in (meta.bp, auth.bp, users.bp):
    app.register_blueprint(blueprint)


@app.on_ws_connect()
def ws_connect(event):
    return ws.on_connect(event)


@app.on_ws_disconnect()
def ws_disconnect(event):
    return ws.on_disconnect(event)


@app.on_ws_message()
def ws_message(event):
    return ws.on_message(event)
