"""Outgoing email through SES (moto's SES locally: see /_local/emails)."""

from __future__ import annotations

from chalicelib import aws
from chalicelib.config import get_settings
from chalicelib.logs import get_logger

log = get_logger(__name__)


def send(to: str, subject: str, text: str) -> None:
    aws.client("ses").send_email(
        Source=get_settings().email_sender,
        Destination={"ToAddresses": [to]},
        Message={
            "Subject": {"Data": subject, "Charset": "UTF-8"},
            "Body": {"Text": {"Data": text, "Charset": "UTF-8"}},
        },
    )
    log.info("email sent", extra={"fields": {"subject": subject}})


def send_code(to: str, purpose: str, code: str) -> None:
    minutes = get_settings().otp_ttl_seconds // 60
    subjects = {
        "verify_email": "Your Lightbox verification code",
        "email_change": "Confirm your new Lightbox email address",
        "password_reset": "Your Lightbox password reset code",
    }
    send(
        to,
        subjects[purpose],
        f"Your code is {code}. It expires in {minutes} minutes.\n\nIf you did not ask for it, ignore this email.",
    )
