"""Mobile push: device registration as SNS platform endpoints (APNs, FCM) and pushes to them.

Platform application ARNs come from ``LIGHTBOX_SNS_APNS_ARN`` / ``LIGHTBOX_SNS_FCM_ARN`` (set by the template
when the stack has push credentials; empty means push is not configured). Locally they are found once by name
(``lightbox-<stage>-apns|fcm``, created by the local stack). A disabled or deleted endpoint is removed and never
retried.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from typing import Any

from chalicelib import aws
from chalicelib.config import get_settings
from chalicelib.errors import NotFoundError, ValidationError
from chalicelib.logs import get_logger
from chalicelib.models.devices import Device

log = get_logger(__name__)
PLATFORMS = {"apns": "APNS", "fcm": "GCM"}
_arns: dict[str, str | None] = {}


def platform_app_name(platform: str) -> str:
    return f"lightbox-{get_settings().stage}-{platform}"


def platform_arn(platform: str) -> str | None:
    if platform in _arns:
        return _arns[platform]
    arn = get_settings().sns_platform_arns.get(platform)
    if arn is None and get_settings().is_local:
        sns = aws.client("sns")
        suffix = "/" + platform_app_name(platform)
        for page in sns.get_paginator("list_platform_applications").paginate():
            for app in page.get("PlatformApplications", []):
                if app["PlatformApplicationArn"].endswith(suffix):
                    arn = app["PlatformApplicationArn"]
    if arn is not None:
        _arns[platform] = arn
    return arn


def device_id(platform: str, token: str) -> str:
    return hashlib.sha256(f"{platform}:{token}".encode()).hexdigest()[:24]


def register(user_id: str, platform: str, token: str) -> Device:
    arn = platform_arn(platform)
    if arn is None:
        raise ValidationError("Push is not configured for this platform.", details={"platform": "not available"})
    sns = aws.client("sns")
    try:
        endpoint = sns.create_platform_endpoint(PlatformApplicationArn=arn, Token=token, CustomUserData=user_id)[
            "EndpointArn"
        ]
    except sns.exceptions.InvalidParameterException as exc:
        # The phone is registered to another account (someone switched accounts on it): take it over.
        found = re.search(r"(arn:[^ ]+:endpoint/[^ ]+)", str(exc))
        if found is None:
            raise
        endpoint = found.group(1)
        sns.set_endpoint_attributes(EndpointArn=endpoint, Attributes={"CustomUserData": user_id, "Enabled": "true"})
    for previous in Device.by_endpoint.query(endpoint):
        if previous.user_id != user_id:  # that account must no longer receive this phone's pushes
            Device(user_id=previous.user_id, device_id=previous.device_id).delete()
    device = Device(user_id=user_id, device_id=device_id(platform, token), platform=platform, endpoint_arn=endpoint)
    device.save()
    return device


def unregister(user_id: str, device_id_: str) -> None:
    try:
        device = Device.get(user_id, device_id_)
    except Device.DoesNotExist:
        raise NotFoundError("No such device.") from None
    _drop(device)


def _drop(device: Device) -> None:
    sns = aws.client("sns")
    with contextlib.suppress(sns.exceptions.NotFoundException):
        sns.delete_endpoint(EndpointArn=device.endpoint_arn)
    device.delete()


def devices_of(user_id: str) -> list[Device]:
    return list(Device.query(user_id))


def payload(title: str, data: dict[str, Any]) -> str:
    apns = {"aps": {"alert": title, "sound": "default"}, "notification": data}
    fcm = {"notification": {"title": "Lightbox", "body": title}, "data": {"notification": json.dumps(data)}}
    return json.dumps(
        {"default": title, "APNS": json.dumps(apns), "APNS_SANDBOX": json.dumps(apns), "GCM": json.dumps(fcm)}
    )


def push_to_user(user_id: str, title: str, data: dict[str, Any]) -> int:
    sns = aws.client("sns")
    message = payload(title, data)
    sent = 0
    for device in devices_of(user_id):
        try:
            sns.publish(TargetArn=device.endpoint_arn, Message=message, MessageStructure="json")
            sent += 1
        except (sns.exceptions.EndpointDisabledException, sns.exceptions.NotFoundException):
            log.info("push endpoint gone; removing the device", extra={"fields": {"device_id": device.device_id}})
            _drop(device)
    return sent


def on_user_deleted(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``user.deleted`` consumer (chalicelib/jobs): stop pushing to the user's phones (endpoints and rows go)."""
    found = list(Device.query(payload["user_id"], limit=limit))
    for device in found:
        _drop(device)
    return {} if len(found) >= limit else None
