"""localstripe on 127.0.0.1 only, state in memory only.

Stock ``localstripe`` binds every interface (``::``) and pickles its store to the fixed path
``/tmp/localstripe.pickle`` on every write (shared by every run on the machine, reloaded at start
unless ``--from-scratch``). Here it listens on loopback and never touches the disk: each run starts
empty and leaves nothing behind.

    python -m infrastructure.local.stripe_host --port 8420
"""

from __future__ import annotations

import argparse
import importlib
import logging

from infrastructure.local.common import LOOPBACK

# Each module's ``install(app)`` adds routes to localstripe's aiohttp app before it starts.
EXTENSIONS = (
    "infrastructure.local.stripe_disputes",  # disputes and the charge.* events localstripe never emits
    "infrastructure.local.stripe_connect",  # Connect: connected accounts and transfers (payouts)
    "infrastructure.local.stripe_retry",  # a declined PaymentIntent can take another card (checkout)
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)

    from aiohttp import web
    from localstripe import resources, server

    resources.Store.try_load_from_disk = lambda self: None
    resources.Store.dump_to_disk = lambda self: None
    for name in EXTENSIONS:  # the calls localstripe lacks, served in its process (see each module)
        importlib.import_module(name).install(server.app)

    access = logging.getLogger("aiohttp.access")
    access.setLevel(logging.INFO)
    access.addHandler(logging.StreamHandler())
    web.run_app(
        server.app,
        host=LOOPBACK,
        port=args.port,
        access_log=access,
        print=lambda *_: print(f"localstripe on http://{LOOPBACK}:{args.port}", flush=True),
    )


if __name__ == "__main__":
    main()
