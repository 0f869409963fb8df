"""HTTP API blueprints, one module per resource family. Handlers parse, call a service, return.

``MODULES`` lists them; ``make routes`` regenerates ``manifest.py`` (path, method, module) from their
``@route`` declarations, and ``app.py`` mounts the manifest with lazy imports (see ``routing``).
"""

MODULES = (
    "chalicelib.api.meta",
    "chalicelib.api.auth",
    "chalicelib.api.identities",
    "chalicelib.api.users",
    "chalicelib.api.events",
    "chalicelib.api.rsvp",
    "chalicelib.api.ratings",
    "chalicelib.api.invitations",
    "chalicelib.api.photos",
    "chalicelib.api.engagement",
    "chalicelib.api.social",
    "chalicelib.api.chat",
    "chalicelib.api.notifications",
    "chalicelib.api.fulfilment",
    "chalicelib.api.delivery",
    "chalicelib.api.earnings",
    "chalicelib.api.galleries",
    "chalicelib.api.orders",
    "chalicelib.api.webhooks",
    "chalicelib.api.refunds",
    "chalicelib.api.subscriptions",
    "chalicelib.api.wallet",
    "chalicelib.api.verification",
    "chalicelib.api.discovery",
    "chalicelib.api.moderation",
)
