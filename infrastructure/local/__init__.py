"""The local stack behind ``make dev``: moto, localstripe and the real handlers on one machine.

Never deployed. Modules:

- ``devstack``   supervisor: starts moto and localstripe, creates resources, starts the app host.
- ``app_host``   one process serving the Chalice app: HTTP API, WebSocket gateway, SQS poller.
- ``api_server`` the HTTP API through chalice's own local gateway, plus ``/_local/*``.
- ``gateway``    API Gateway WebSocket stand-in, including the ``@connections`` management API.
- ``sqs_poller`` feeds SQS batches to the queue handler the way Lambda's event source mapping does.
- ``moto_host`` / ``stripe_host``  moto server and localstripe, bound to 127.0.0.1.
- ``stack``      ``start_stack()`` for end-to-end tests.
"""
