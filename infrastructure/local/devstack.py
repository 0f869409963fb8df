"""``make dev``: the whole system on this machine, no AWS account.

    python -m infrastructure.local.devstack [--seed]   # make dev
    python -m infrastructure.local.devstack --seed-only  # make seed, into the running stack

Starts, each as a child in its own process group (Ctrl-C in the terminal reaches only this supervisor,
which then stops them as groups: SIGTERM, a grace period, SIGKILL):

1. moto server on 127.0.0.1 (DynamoDB, S3, SQS, SES, ...): ``moto_host``;
2. localstripe on 127.0.0.1, state in memory: ``stripe_host``; its webhook ``lightbox`` is registered to the
   API's ``/webhooks/stripe`` (``LIGHTBOX_STRIPE_WEBHOOK_SECRET``), so payments reach the real handler;
3. the print-lab emulator on 127.0.0.1 (``print_lab``: Prodigi-shaped orders, signed callbacks to the API's
   ``/webhooks/print-lab``, a step every ``LIGHTBOX_PRINT_LAB_STEP_SECONDS``, default 5; 0: only on
   ``POST /_lab/orders/{id}/advance``), and the OIDC issuer standing in for Google and Apple (``oidc_issuer``:
   discovery documents, JWKS, ``POST /{provider}/id-token``; the API's ``LIGHTBOX_OIDC_*`` settings point at it);
4. then creates tables, buckets, queues, the S3 -> SQS notification and the SES sender with the
   project's own ``chalicelib.resources.ensure_resources()``, optionally seeds (``chalicelib.cli seed``);
5. then the app host (``app_host``): HTTP API, WebSocket gateway and SQS poller around the real handlers;
6. then, once ``make web`` has built ``web/dist``, the web app (``web_host``) under the production CSP.

Ports come from LIGHTBOX_API_PORT (8000), LIGHTBOX_WS_PORT (8001), LIGHTBOX_MOTO_PORT (5000),
LIGHTBOX_STRIPE_PORT (8420), LIGHTBOX_PRINT_LAB_PORT (8430), LIGHTBOX_OIDC_PORT (8440) and LIGHTBOX_WEB_PORT
(8002). If any child dies, the supervisor says which, stops the rest and exits 1.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from infrastructure.local.common import LOOPBACK, free_port, http_status, port_in_use, wait_until
from infrastructure.local.oidc_issuer import DEFAULT_CLIENT_IDS as OIDC_CLIENT_IDS

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RESOURCES = "chalicelib.resources:ensure_resources"
STOP_GRACE_SECONDS = 8.0
READY_LINE = "Lightbox local stack is up"
WEB_DIST = REPO_ROOT / "web" / "dist"
START_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class Ports:
    api: int = 8000
    ws: int = 8001
    moto: int = 5000
    stripe: int = 8420
    print_lab: int = 8430
    web: int = 8002
    oidc: int = 8440

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Ports:
        return cls(
            api=int(env.get("LIGHTBOX_API_PORT", cls.api)),
            ws=int(env.get("LIGHTBOX_WS_PORT", cls.ws)),
            moto=int(env.get("LIGHTBOX_MOTO_PORT", cls.moto)),
            stripe=int(env.get("LIGHTBOX_STRIPE_PORT", cls.stripe)),
            print_lab=int(env.get("LIGHTBOX_PRINT_LAB_PORT", cls.print_lab)),
            web=int(env.get("LIGHTBOX_WEB_PORT", cls.web)),
            oidc=int(env.get("LIGHTBOX_OIDC_PORT", cls.oidc)),
        )

    @classmethod
    def free(cls) -> Ports:
        """Seven ports nothing listens on right now (for tests running stacks side by side)."""
        chosen: set[int] = set()
        while len(chosen) < 7:
            chosen.add(free_port())
        api, ws, moto, stripe, print_lab, web, oidc = sorted(chosen)
        return cls(api=api, ws=ws, moto=moto, stripe=stripe, print_lab=print_lab, web=web, oidc=oidc)

    def as_env(self) -> dict[str, str]:
        return {
            "LIGHTBOX_API_PORT": str(self.api),
            "LIGHTBOX_WS_PORT": str(self.ws),
            "LIGHTBOX_MOTO_PORT": str(self.moto),
            "LIGHTBOX_STRIPE_PORT": str(self.stripe),
            "LIGHTBOX_PRINT_LAB_PORT": str(self.print_lab),
            "LIGHTBOX_WEB_PORT": str(self.web),
            "LIGHTBOX_OIDC_PORT": str(self.oidc),
        }

    def urls(self) -> dict[str, str]:
        return {
            "api": f"http://{LOOPBACK}:{self.api}",
            "ws": f"ws://{LOOPBACK}:{self.ws}",
            "ws_management": f"http://{LOOPBACK}:{self.ws}",
            "moto": f"http://{LOOPBACK}:{self.moto}",
            "stripe": f"http://{LOOPBACK}:{self.stripe}",
            "print_lab": f"http://{LOOPBACK}:{self.print_lab}",
            "web": f"http://{LOOPBACK}:{self.web}",
            "oidc": f"http://{LOOPBACK}:{self.oidc}",
            "emails": f"http://{LOOPBACK}:{self.api}/_local/emails",
            "jobs": f"http://{LOOPBACK}:{self.api}/_local/jobs",
        }


# Never let a developer's real AWS identity or endpoints leak into the local stack.
_DROPPED_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
)


def local_env(ports: Ports, base: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The environment the app (and ensure_resources, and seed) runs with locally."""
    urls = ports.urls()
    env = {k: v for k, v in base.items() if k not in _DROPPED_ENV and not k.startswith("AWS_ENDPOINT_URL")}
    env.update(ports.as_env())
    env.update(
        {
            "LIGHTBOX_STAGE": "local",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_EC2_METADATA_DISABLED": "true",
            "LIGHTBOX_AWS_ENDPOINT_URL": urls["moto"],
            "LIGHTBOX_WS_ENDPOINT": urls["ws_management"],
            "LIGHTBOX_STRIPE_API_BASE": urls["stripe"],
            "LIGHTBOX_STRIPE_SECRET_KEY": "sk_test_local",
            "LIGHTBOX_STRIPE_PUBLISHABLE_KEY": "pk_test_local",
            "LIGHTBOX_STRIPE_JS_URL": f"{urls['stripe']}/js.stripe.com/v3/",  # localstripe's fake Stripe.js
            "LIGHTBOX_WS_URL": urls["ws"],
            "LIGHTBOX_PUBLIC_API_URL": urls["api"],  # absolute links the API hands out (download_url)
            "LIGHTBOX_PRINT_LAB_URL": urls["print_lab"],
            # Sign in with Google and Apple against the local issuer (infrastructure/local/oidc_issuer.py)
            "LIGHTBOX_OIDC_GOOGLE_DISCOVERY_URL": f"{urls['oidc']}/google/.well-known/openid-configuration",
            "LIGHTBOX_OIDC_APPLE_DISCOVERY_URL": f"{urls['oidc']}/apple/.well-known/openid-configuration",
            "AWS_XRAY_SDK_ENABLED": "false",
            # Safety nets: a boto3 client created without endpoint_url still lands on moto / the gateway.
            "AWS_ENDPOINT_URL": urls["moto"],
            "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI": urls["ws_management"],
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.setdefault("LIGHTBOX_JWT_SECRET", secrets.token_urlsafe(32))
    env.setdefault("LIGHTBOX_STRIPE_WEBHOOK_SECRET", f"whsec_{secrets.token_hex(16)}")  # registered with localstripe
    env.setdefault("LIGHTBOX_PRINT_LAB_API_KEY", f"lab_{secrets.token_hex(8)}")  # the emulator requires it
    env.setdefault("LIGHTBOX_PRINT_LAB_WEBHOOK_SECRET", f"lab_whsec_{secrets.token_hex(16)}")  # signs its callbacks
    env.setdefault("LIGHTBOX_EMAIL_SENDER", "no-reply@lightbox.local")
    env.setdefault("LIGHTBOX_OIDC_GOOGLE_CLIENT_IDS", OIDC_CLIENT_IDS["google"])  # the issuer's default audiences
    env.setdefault("LIGHTBOX_OIDC_APPLE_CLIENT_IDS", OIDC_CLIENT_IDS["apple"])
    web = ports.web  # the web app's origins, for CORS
    env.setdefault("LIGHTBOX_APP_ORIGINS", f"http://{LOOPBACK}:{web},http://localhost:{web}")
    return env


# --- children -------------------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM if the supervisor dies, even by SIGKILL (Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Child:
    def __init__(self, name: str, process: subprocess.Popen, log_path: Path | None) -> None:
        self.name = name
        self.process = process
        self.log_path = log_path

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class Supervisor:
    """Children in their own process groups; stopped as groups, newest first."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.children: list[Child] = []

    def spawn(
        self, name: str, argv: list[str], env: Mapping[str, str], *, cwd: Path = REPO_ROOT, log_to_file: bool = False
    ) -> Child:
        log_path: Path | None = None
        out: IO | None = None
        if log_to_file:
            log_path = self.workdir / f"{name}.log"
            out = open(log_path, "ab")  # noqa: SIM115 - handed to the child process, closed right after Popen
        try:
            process = subprocess.Popen(
                argv,
                cwd=str(cwd),
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT if out else None,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        finally:
            if out is not None:
                out.close()
        child = Child(name, process, log_path)
        self.children.append(child)
        return child

    def dead(self, *, ignore: tuple[str, ...] = ()) -> Child | None:
        return next((c for c in self.children if c.name not in ignore and c.process.poll() is not None), None)

    def stop(self, child: Child, grace: float = STOP_GRACE_SECONDS) -> None:
        pid = child.process.pid
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, sig)
            try:
                child.process.wait(wait)
            except subprocess.TimeoutExpired:
                print(f"devstack: {child.name} ignored {sig.name}", file=sys.stderr)
                continue
            # The leader is gone; take anything it left in its group with it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            return

    def stop_all(self) -> None:
        for child in reversed(self.children):
            self.stop(child)
        self.children.clear()


class _Stop(BaseException):
    """Raised from the signal handler so a slow start-up step is interrupted too."""


def _on_signal(signum: int, _frame: object) -> None:
    raise _Stop(signum)


def _load(spec: str):
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    module_name, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module_name), attr or "ensure_resources")


def _check_ses_sender(env: Mapping[str, str]) -> None:
    import boto3

    sender = env["LIGHTBOX_EMAIL_SENDER"]
    ses = boto3.client("ses", endpoint_url=env["LIGHTBOX_AWS_ENDPOINT_URL"], region_name=env["AWS_DEFAULT_REGION"])
    identities = set(ses.list_identities()["Identities"])
    if sender not in identities and sender.split("@")[-1] not in identities:
        print(
            f"devstack: warning: SES sender {sender} is not verified in moto; "
            "moto rejects (and does not store) mail from unverified senders",
            file=sys.stderr,
        )


def _print_table(ports: Ports, workdir: Path, seeded: bool) -> None:
    urls = ports.urls()
    rows = [
        ("HTTP API", urls["api"]),
        ("WebSocket API", f"{urls['ws']}/?token=<access_token>"),
        ("  @connections", f"{urls['ws_management']}/@connections/{{id}}"),
        ("Emails (SES)", urls["emails"]),
        ("Failed jobs (DLQ)", urls["jobs"]),
        ("moto (AWS)", f"{urls['moto']}   dashboard: {urls['moto']}/moto-api/"),
        ("localstripe", f"{urls['stripe']}   webhook -> {urls['api']}/webhooks/stripe"),
        ("web app", urls["web"] if WEB_DIST.joinpath("index.html").is_file() else "not built (run `make web`)"),
        ("print lab", f"{urls['print_lab']}   POST /_lab/orders/{{id}}/advance, GET /_lab/orders/{{id}}"),
        ("OIDC issuer", f"{urls['oidc']}/{{google,apple}}   POST /{{provider}}/id-token {{email, sub, nonce?}}"),
        ("logs (moto, stripe, lab, oidc)", f"{workdir}  (removed on exit)"),
        ("seed data", "loaded" if seeded else "none (run `make seed` while this runs)"),
    ]
    width = max(len(name) for name, _ in rows)
    print("\n" + READY_LINE, flush=True)
    for name, value in rows:
        print(f"  {name.ljust(width)}  {value}")
    print(
        "  AWS_ENDPOINT_URL={} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
        "AWS_DEFAULT_REGION=us-east-1 for the aws CLI / boto3".format(urls["moto"])
    )
    print("Ctrl-C stops everything.\n", flush=True)


def _wait_for(sup: Supervisor, child: Child, url: str, what: str, timeout: float, want: int | None = None) -> None:
    def answered() -> bool:
        status = http_status(url, timeout=1.0)
        return status is not None and (want is None or status == want)

    def abort() -> str | None:
        gone = sup.dead(ignore=("seed",))
        if gone is not None:
            return f"{gone.name} exited with {gone.process.returncode}\n{gone.log_tail()}"
        return None

    wait_until(answered, timeout, interval=0.1, abort=abort, what=what)


def _child_env(ports: Ports) -> dict[str, str]:
    env = local_env(ports)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    return env


SEED_ARGV = ["-m", "chalicelib.cli", "seed"]
STRIPE_WEBHOOK_NAME = "lightbox"


def print_lab_argv(python: str, ports: Ports, env: Mapping[str, str]) -> list[str]:
    urls = ports.urls()
    return [
        python,
        "-m",
        "infrastructure.local.print_lab",
        "--port",
        str(ports.print_lab),
        "--callback-url",
        f"{urls['api']}/webhooks/print-lab",
        "--secret",
        env["LIGHTBOX_PRINT_LAB_WEBHOOK_SECRET"],
        "--api-key",
        env["LIGHTBOX_PRINT_LAB_API_KEY"],
        "--step-seconds",
        env.get("LIGHTBOX_PRINT_LAB_STEP_SECONDS") or "5",
    ]


def oidc_argv(python: str, ports: Ports, env: Mapping[str, str]) -> list[str]:
    """The issuer mints tokens for the first client id the API accepts (its default audience)."""
    argv = [python, "-m", "infrastructure.local.oidc_issuer", "--port", str(ports.oidc)]
    for provider in OIDC_CLIENT_IDS:
        client_ids = env.get(f"LIGHTBOX_OIDC_{provider.upper()}_CLIENT_IDS", "").split(",")
        if client_ids[0].strip():
            argv += ["--client-id", f"{provider}={client_ids[0].strip()}"]
    return argv


def web_argv(python: str, ports: Ports, env: Mapping[str, str]) -> list[str]:
    urls = ports.urls()
    return [
        python,
        "-m",
        "infrastructure.local.web_host",
        "--port",
        str(ports.web),
        "--dist",
        str(WEB_DIST),
        "--api-url",
        urls["api"],
        "--ws-url",
        urls["ws"],
        "--media-url",
        urls["moto"],
        "--stripe-js-url",
        env["LIGHTBOX_STRIPE_JS_URL"],
        # the local OIDC issuer, for the web app's Google / Apple buttons (app-config.json and the CSP)
        *(["--oidc-issuer", urls["oidc"]] if "oidc" in urls else []),
    ]


def register_stripe_webhook(ports: Ports, secret: str) -> None:
    """Point localstripe's webhook at the API's /webhooks/stripe (localstripe's ``POST /_config/webhooks/<name>``,
    form-encoded ``url`` and ``secret``; it signs each event with that secret as Stripe does)."""
    from urllib import parse as urlparse
    from urllib import request as urlrequest

    urls = ports.urls()
    form = urlparse.urlencode({"url": f"{urls['api']}/webhooks/stripe", "secret": secret}).encode()
    request = urlrequest.Request(
        f"{urls['stripe']}/_config/webhooks/{STRIPE_WEBHOOK_NAME}",
        data=form,
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with urlrequest.urlopen(request, timeout=5) as response:
        if response.status != 200:
            raise RuntimeError(f"localstripe refused the webhook registration ({response.status})")


def seed_running_stack() -> int:
    """``make seed``: load demo data into the stack already running on the configured ports."""
    ports = Ports.from_env()
    if http_status(ports.urls()["moto"] + "/moto-api/config") is None:
        print(f"devstack: nothing answers on the moto port {ports.moto}; start `make dev` first", file=sys.stderr)
        return 2
    return subprocess.run([sys.executable, *SEED_ARGV], cwd=str(REPO_ROOT), env=_child_env(ports)).returncode


def run(args: argparse.Namespace) -> int:
    if args.seed_only:
        return seed_running_stack()
    ports = Ports.from_env()
    busy = [f"{name} port {port}" for name, port in vars(ports).items() if port_in_use(port)]
    if busy:
        print(
            "devstack: already in use: " + ", ".join(busy) + " (stop the other stack or set LIGHTBOX_*_PORT)",
            file=sys.stderr,
        )
        return 2
    env = _child_env(ports)
    workdir = Path(tempfile.mkdtemp(prefix="lightbox-dev-"))
    sup = Supervisor(workdir)
    python = sys.executable
    urls = ports.urls()
    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        moto = sup.spawn(
            "moto", [python, "-m", "infrastructure.local.moto_host", "--port", str(ports.moto)], env, log_to_file=True
        )
        stripe = sup.spawn(
            "localstripe",
            [python, "-m", "infrastructure.local.stripe_host", "--port", str(ports.stripe)],
            env,
            cwd=workdir,
            log_to_file=True,
        )
        lab = sup.spawn("print-lab", print_lab_argv(python, ports, env), env, log_to_file=True)
        oidc = sup.spawn("oidc-issuer", oidc_argv(python, ports, env), env, log_to_file=True)
        _wait_for(sup, moto, urls["moto"] + "/moto-api/config", "moto", START_TIMEOUT_SECONDS)
        _wait_for(sup, stripe, urls["stripe"] + "/v1/customers", "localstripe", START_TIMEOUT_SECONDS)
        _wait_for(sup, lab, urls["print_lab"] + "/_lab/health", "print-lab emulator", START_TIMEOUT_SECONDS, want=200)
        _wait_for(sup, oidc, urls["oidc"] + "/_oidc/health", "OIDC issuer", START_TIMEOUT_SECONDS, want=200)
        register_stripe_webhook(ports, env["LIGHTBOX_STRIPE_WEBHOOK_SECRET"])

        os.environ.update(env)  # ensure_resources reads its settings from the environment
        resources = _load(args.resources)() or {}
        _check_ses_sender(env)
        queue_url = resources.get("upload_queue_url")
        if not queue_url:
            print("devstack: ensure_resources() returned no upload_queue_url; no SQS poller", file=sys.stderr)

        if args.seed:
            seed = sup.spawn("seed", [python, *SEED_ARGV], env)
            while seed.process.poll() is None:
                gone = sup.dead(ignore=("seed",))
                if gone is not None:
                    raise RuntimeError(f"{gone.name} exited while seeding\n{gone.log_tail()}")
                time.sleep(0.1)
            if seed.process.returncode != 0:
                print(f"devstack: seed failed ({seed.process.returncode})", file=sys.stderr)
                return 1
            sup.children.remove(seed)

        host_argv = [
            python,
            "-m",
            "infrastructure.local.app_host",
            "--app",
            args.app,
            "--api-port",
            str(ports.api),
            "--ws-port",
            str(ports.ws),
            "--moto-url",
            urls["moto"],
        ]
        if queue_url:
            host_argv += ["--upload-queue-url", queue_url]
        for key, flag in (
            ("video_queue_url", "--video-queue-url"),
            ("jobs_queue_url", "--jobs-queue-url"),
            ("jobs_dlq_url", "--jobs-dlq-url"),
        ):
            if resources.get(key):
                host_argv += [flag, resources[key]]
        host = sup.spawn("app", host_argv, env)
        _wait_for(sup, host, urls["api"] + "/", "HTTP API", START_TIMEOUT_SECONDS)
        _wait_for(sup, host, urls["ws_management"] + "/", "WebSocket gateway", START_TIMEOUT_SECONDS)
        if WEB_DIST.joinpath("index.html").is_file():
            web = sup.spawn("web", web_argv(python, ports, env), env)
            _wait_for(sup, web, urls["web"] + "/app-config.json", "web app", START_TIMEOUT_SECONDS, want=200)
        _print_table(ports, workdir, args.seed)

        while True:
            time.sleep(0.3)
            gone = sup.dead()
            if gone is not None:
                print(
                    f"devstack: {gone.name} exited unexpectedly (code {gone.process.returncode}); stopping everything",
                    file=sys.stderr,
                )
                tail = gone.log_tail()
                if tail:
                    print(tail, file=sys.stderr)
                return 1
    except _Stop:
        print("\ndevstack: stopping ...", flush=True)
        return 0
    except (RuntimeError, TimeoutError) as exc:  # a service did not come up: its own message
        print(f"devstack: {exc}", file=sys.stderr)
        return 1
    except Exception:
        traceback.print_exc()
        print("devstack: start-up failed; stopping everything", file=sys.stderr)
        return 1
    finally:
        for s in previous:
            signal.signal(s, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        sup.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
        for s, handler in previous.items():
            signal.signal(s, handler)
        print("devstack: stopped", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run Lightbox locally (make dev).")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--seed", action="store_true", help="load demo data (chalicelib.cli seed)")
    mode.add_argument(
        "--seed-only", action="store_true", help="only load demo data into the stack already running (make seed)"
    )
    parser.add_argument(
        "--app",
        default=os.environ.get("LIGHTBOX_LOCAL_APP", "app"),
        help="module defining the Chalice app and its handlers (default: app)",
    )
    parser.add_argument(
        "--resources",
        default=os.environ.get("LIGHTBOX_LOCAL_RESOURCES", DEFAULT_RESOURCES),
        help="module:function creating the AWS resources (default: %(default)s)",
    )
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
