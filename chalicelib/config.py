"""One typed settings object, read from the environment once per container.

Secrets: locally and in tests the JWT signing key comes from ``LIGHTBOX_JWT_SECRET``. In AWS the stage
config sets ``LIGHTBOX_JWT_SECRET_PARAM`` (an SSM SecureString name) instead and the key is fetched once,
lazily, on first use (see :func:`chalicelib.aws.secret`). The same holds for the Stripe keys.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import overload


@overload
def _env(name: str) -> str | None: ...
@overload
def _env(name: str, default: str) -> str: ...


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _int(name: str, default: int) -> int:
    raw = _env(name)
    return int(raw) if raw is not None else default


def _list(name: str, default: str = "") -> tuple[str, ...]:
    raw = _env(name, default) or ""
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _ws_url(management_endpoint: str | None) -> str | None:
    """The management endpoint's URL with the WebSocket scheme (same host and stage in AWS and locally)."""
    if not management_endpoint:
        return None
    scheme, sep, rest = management_endpoint.partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}{sep}{rest}" if sep else management_endpoint


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    aws_endpoint_url: str | None
    table_prefix: str
    uploads_bucket: str
    media_bucket: str
    upload_queue_name: str
    upload_dlq_name: str
    jobs_queue_name: str
    jobs_dlq_name: str
    email_sender: str
    ws_endpoint: str | None
    jwt_secret: str | None
    jwt_secret_param: str | None
    jwt_issuer: str
    jwt_audience: str
    access_token_ttl: int
    refresh_token_ttl: int
    stripe_secret_key: str | None
    stripe_secret_param: str | None
    stripe_api_base: str | None
    argon2_time_cost: int
    argon2_memory_kib: int
    argon2_parallelism: int
    max_body_bytes: int
    max_upload_bytes: int
    login_max_failures: int  # per account and window
    login_window_seconds: int
    otp_ttl_seconds: int
    otp_max_attempts: int
    otp_resend_cooldown_seconds: int
    username_change_cooldown_days: int
    app_origins: tuple[str, ...] = field(default_factory=tuple)
    xray_patch: bool = False
    public_api_url: str | None = None
    sns_platform_arns: dict[str, str] = field(default_factory=dict)  # apns / fcm -> platform application ARN
    login_max_failures_per_ip: int = 100  # per source address and window: sprays across many accounts
    job_chunk_size: int = 100  # items one background job handles before it enqueues its continuation
    fanout_inline_max: int = 25  # recipients/connections served inline; more go to background jobs
    ws_url: str | None = None  # the WebSocket URL clients connect to (GET /config)
    stripe_publishable_key: str | None = None
    stripe_js_url: str = "https://js.stripe.com/v3/"
    max_video_bytes: int = 2 * 1024 * 1024 * 1024
    email_test_domains: tuple[str, ...] = ()  # special-use TLDs accepted in addresses (local stage only)
    # ---- print lab (fulfilment of lab prints; docs/print-lab.md) ----
    print_lab_url: str | None = None  # the lab's API base (Prodigi v4 shapes); None: lab items wait (job retries)
    print_lab_api_key: str | None = None  # X-API-Key; in AWS from the stage config (Secrets Manager: see docs)
    print_lab_webhook_secret: str | None = None  # the Lab-Signature secret of POST /webhooks/print-lab
    print_lab_api_key_param: str | None = None  # in AWS: the SSM names of those two secrets
    print_lab_webhook_secret_param: str | None = None
    print_lab_shipping_method: str = "Standard"
    print_lab_asset_ttl: int = 7 * 24 * 3600  # signed original URLs the lab downloads (SigV4's maximum)
    print_lab_timeout: float = 10.0  # seconds per call to the lab
    # -- delivery (receipts, invoices, archives, downloads: docs/delivery.md) --
    web_url: str | None = None  # the web app's base URL for links in emails (else the first app origin)
    download_url_ttl: int = 300  # seconds a signed download link (ours and S3's) stays valid
    archive_url_ttl: int = 900  # seconds the signed GET of a ready archive stays valid
    archive_part_bytes: int = 8 * 1024 * 1024  # S3 multipart part size of an archive (S3's minimum is 5 MiB)

    @property
    def web_base_url(self) -> str:
        """Where the web app lives: ``LIGHTBOX_WEB_URL``, else the first of ``LIGHTBOX_APP_ORIGINS``."""
        return (self.web_url or (self.app_origins[0] if self.app_origins else "")).rstrip("/")

    # ledger, earnings and payouts (docs/ledger.md)
    platform_fee_bps: int = 1000  # the platform's fee on sales, in basis points (1000 = 10%)
    earnings_hold_days: int = 7  # earnings stay pending this long before they become available
    payout_minimum_cents: int = 1000  # the smallest payout an earner may request
    # checkout (cart, orders, Stripe payments; docs/payments.md)
    stripe_webhook_secret: str | None = None  # whsec_...: locally and in tests
    stripe_webhook_secret_param: str | None = None  # in AWS: the SSM SecureString holding it
    order_expiry_minutes: int = 60  # an unpaid order is cancelled after this
    # creators: premium media, subscriptions, tips, wallet (docs/creators.md, docs/wallet.md)
    tip_max_cents: int = 50_000  # the largest tip
    wallet_top_up_max_cents: int = 100_000  # the largest single top-up or staff deposit
    creator_price_max_cents: int = 100_000  # the largest plan or pay-per-view price
    subscription_period_days: int = 30  # a wallet-paid subscription's period (card ones: Stripe's monthly plan)
    subscription_grace_days: int = 7  # a wallet subscription past_due this long is cancelled
    # video (docs/video.md)
    max_video_seconds: int = 600
    video_timeout_seconds: int = 600  # wall-clock limit of one ffmpeg run
    video_memory_mib: int = 1536  # address-space limit of one ffmpeg run
    video_preset: str = "veryfast"  # libx264 preset of the stream and preview encodes (tests: ultrafast)
    video_queue_name: str = ""  # S3 -> SQS -> the video function (chalicelib/triggers/videos.py)
    video_dlq_name: str = ""
    # sign in with Google and Apple (docs/sign-in.md): each provider's OpenID discovery document and the client
    # ids (audiences) its ID tokens must name; a provider with no client id is not offered (503)
    oidc_google_discovery_url: str = "https://accounts.google.com/.well-known/openid-configuration"
    oidc_google_client_ids: tuple[str, ...] = ()
    oidc_apple_discovery_url: str = "https://appleid.apple.com/.well-known/openid-configuration"
    oidc_apple_client_ids: tuple[str, ...] = ()
    oidc_timeout: float = 5.0  # seconds per fetch of a discovery document or a JWKS

    def oidc_provider(self, name: str) -> tuple[str, tuple[str, ...]]:
        """(discovery URL, client ids) of ``google`` or ``apple``."""
        return getattr(self, f"oidc_{name}_discovery_url"), getattr(self, f"oidc_{name}_client_ids")

    @property
    def is_local(self) -> bool:
        return self.stage in ("local", "test")

    def table_name(self, name: str) -> str:
        return f"{self.table_prefix}{name}"


def load_settings() -> Settings:
    stage = _env("LIGHTBOX_STAGE", "local")
    prefix = f"lightbox-{stage}"
    return Settings(
        stage=stage,
        region=_env("AWS_REGION") or _env("AWS_DEFAULT_REGION", "us-east-1"),
        aws_endpoint_url=_env("LIGHTBOX_AWS_ENDPOINT_URL"),
        table_prefix=_env("LIGHTBOX_TABLE_PREFIX", f"{prefix}-"),
        uploads_bucket=_env("LIGHTBOX_UPLOADS_BUCKET", f"{prefix}-uploads"),
        media_bucket=_env("LIGHTBOX_MEDIA_BUCKET", f"{prefix}-media"),
        upload_queue_name=_env("LIGHTBOX_UPLOAD_QUEUE", f"{prefix}-uploads"),
        upload_dlq_name=_env("LIGHTBOX_UPLOAD_DLQ", f"{prefix}-uploads-dlq"),
        jobs_queue_name=_env("LIGHTBOX_JOBS_QUEUE") or f"{prefix}-jobs",
        jobs_dlq_name=_env("LIGHTBOX_JOBS_DLQ") or f"{prefix}-jobs-dlq",
        email_sender=_env("LIGHTBOX_EMAIL_SENDER", "no-reply@lightbox.local"),
        ws_endpoint=_env("LIGHTBOX_WS_ENDPOINT"),
        jwt_secret=_env("LIGHTBOX_JWT_SECRET"),
        jwt_secret_param=_env("LIGHTBOX_JWT_SECRET_PARAM"),
        jwt_issuer=_env("LIGHTBOX_JWT_ISSUER", "lightbox"),
        jwt_audience=_env("LIGHTBOX_JWT_AUDIENCE", "lightbox-api"),
        access_token_ttl=_int("LIGHTBOX_ACCESS_TOKEN_TTL", 15 * 60),
        refresh_token_ttl=_int("LIGHTBOX_REFRESH_TOKEN_TTL", 30 * 24 * 3600),
        stripe_secret_key=_env("LIGHTBOX_STRIPE_SECRET_KEY"),
        stripe_secret_param=_env("LIGHTBOX_STRIPE_SECRET_PARAM"),
        stripe_api_base=_env("LIGHTBOX_STRIPE_API_BASE"),
        # OWASP's argon2id baseline: 19 MiB, 2 iterations. Tests lower it through the environment.
        argon2_time_cost=_int("LIGHTBOX_ARGON2_TIME_COST", 2),
        argon2_memory_kib=_int("LIGHTBOX_ARGON2_MEMORY_KIB", 19 * 1024),
        argon2_parallelism=_int("LIGHTBOX_ARGON2_PARALLELISM", 1),
        max_body_bytes=_int("LIGHTBOX_MAX_BODY_BYTES", 1024 * 1024),
        max_upload_bytes=_int("LIGHTBOX_MAX_UPLOAD_BYTES", 50 * 1024 * 1024),
        login_max_failures=_int("LIGHTBOX_LOGIN_MAX_FAILURES", 5),
        login_window_seconds=_int("LIGHTBOX_LOGIN_WINDOW_SECONDS", 15 * 60),
        otp_ttl_seconds=_int("LIGHTBOX_OTP_TTL_SECONDS", 10 * 60),
        otp_max_attempts=_int("LIGHTBOX_OTP_MAX_ATTEMPTS", 5),
        otp_resend_cooldown_seconds=_int("LIGHTBOX_OTP_RESEND_COOLDOWN_SECONDS", 60),
        username_change_cooldown_days=_int("LIGHTBOX_USERNAME_COOLDOWN_DAYS", 30),
        app_origins=_list("LIGHTBOX_APP_ORIGINS"),
        xray_patch=(_env("LIGHTBOX_XRAY_PATCH", "false") or "").lower() == "true",
        public_api_url=_env("LIGHTBOX_PUBLIC_API_URL"),
        ws_url=_env("LIGHTBOX_WS_URL") or _ws_url(_env("LIGHTBOX_WS_ENDPOINT")),
        stripe_publishable_key=_env("LIGHTBOX_STRIPE_PUBLISHABLE_KEY"),
        stripe_js_url=_env("LIGHTBOX_STRIPE_JS_URL", "https://js.stripe.com/v3/") or "",
        max_video_bytes=_int("LIGHTBOX_MAX_VIDEO_BYTES", 2 * 1024 * 1024 * 1024),
        # email_validator refuses special-use domains (.local, .test); the local stage seeds such addresses.
        email_test_domains=_list("LIGHTBOX_EMAIL_TEST_DOMAINS", "local,test,example")
        if stage in ("local", "test")
        else (),
        sns_platform_arns={
            platform: arn
            for platform, arn in (("apns", _env("LIGHTBOX_SNS_APNS_ARN")), ("fcm", _env("LIGHTBOX_SNS_FCM_ARN")))
            if arn
        },
        login_max_failures_per_ip=_int("LIGHTBOX_LOGIN_MAX_FAILURES_PER_IP", 100),
        job_chunk_size=_int("LIGHTBOX_JOB_CHUNK_SIZE", 100),
        fanout_inline_max=_int("LIGHTBOX_FANOUT_INLINE_MAX", 25),
        # print lab
        print_lab_url=(_env("LIGHTBOX_PRINT_LAB_URL") or "").rstrip("/") or None,
        print_lab_api_key=_env("LIGHTBOX_PRINT_LAB_API_KEY"),
        print_lab_webhook_secret=_env("LIGHTBOX_PRINT_LAB_WEBHOOK_SECRET"),
        print_lab_api_key_param=_env("LIGHTBOX_PRINT_LAB_API_KEY_PARAM"),
        print_lab_webhook_secret_param=_env("LIGHTBOX_PRINT_LAB_WEBHOOK_SECRET_PARAM"),
        print_lab_shipping_method=_env("LIGHTBOX_PRINT_LAB_SHIPPING_METHOD", "Standard"),
        print_lab_asset_ttl=min(_int("LIGHTBOX_PRINT_LAB_ASSET_TTL", 7 * 24 * 3600), 7 * 24 * 3600),
        print_lab_timeout=float(_env("LIGHTBOX_PRINT_LAB_TIMEOUT", "10")),
        # delivery
        web_url=_env("LIGHTBOX_WEB_URL"),
        download_url_ttl=_int("LIGHTBOX_DOWNLOAD_URL_TTL", 300),
        archive_url_ttl=_int("LIGHTBOX_ARCHIVE_URL_TTL", 900),
        archive_part_bytes=max(5 * 1024 * 1024, _int("LIGHTBOX_ARCHIVE_PART_BYTES", 8 * 1024 * 1024)),
        # ledger, earnings and payouts
        platform_fee_bps=_int("LIGHTBOX_PLATFORM_FEE_BPS", 1000),
        earnings_hold_days=_int("LIGHTBOX_EARNINGS_HOLD_DAYS", 7),
        tip_max_cents=_int("LIGHTBOX_TIP_MAX_CENTS", 50_000),
        wallet_top_up_max_cents=_int("LIGHTBOX_WALLET_TOP_UP_MAX_CENTS", 100_000),
        creator_price_max_cents=_int("LIGHTBOX_CREATOR_PRICE_MAX_CENTS", 100_000),
        subscription_period_days=_int("LIGHTBOX_SUBSCRIPTION_PERIOD_DAYS", 30),
        subscription_grace_days=_int("LIGHTBOX_SUBSCRIPTION_GRACE_DAYS", 7),
        max_video_seconds=_int("LIGHTBOX_MAX_VIDEO_SECONDS", 600),
        video_timeout_seconds=_int("LIGHTBOX_VIDEO_TIMEOUT_SECONDS", 600),
        video_memory_mib=_int("LIGHTBOX_VIDEO_MEMORY_MIB", 1536),
        video_preset=_env("LIGHTBOX_VIDEO_PRESET", "veryfast"),
        video_queue_name=_env("LIGHTBOX_VIDEO_QUEUE") or f"{prefix}-videos",
        video_dlq_name=_env("LIGHTBOX_VIDEO_DLQ") or f"{prefix}-videos-dlq",
        payout_minimum_cents=_int("LIGHTBOX_PAYOUT_MINIMUM_CENTS", 1000),
        # checkout
        stripe_webhook_secret=_env("LIGHTBOX_STRIPE_WEBHOOK_SECRET"),
        stripe_webhook_secret_param=_env("LIGHTBOX_STRIPE_WEBHOOK_SECRET_PARAM"),
        order_expiry_minutes=_int("LIGHTBOX_ORDER_EXPIRY_MINUTES", 60),
        # sign in with Google and Apple
        oidc_google_discovery_url=_env(
            "LIGHTBOX_OIDC_GOOGLE_DISCOVERY_URL", "https://accounts.google.com/.well-known/openid-configuration"
        ),
        oidc_google_client_ids=_list("LIGHTBOX_OIDC_GOOGLE_CLIENT_IDS"),
        oidc_apple_discovery_url=_env(
            "LIGHTBOX_OIDC_APPLE_DISCOVERY_URL", "https://appleid.apple.com/.well-known/openid-configuration"
        ),
        oidc_apple_client_ids=_list("LIGHTBOX_OIDC_APPLE_CLIENT_IDS"),
        oidc_timeout=float(_env("LIGHTBOX_OIDC_TIMEOUT", "5")),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
