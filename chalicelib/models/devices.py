"""Mobile devices registered for push (an SNS platform endpoint each).

Access patterns: a user's devices .... Devices Query(user_id); one device .... GetItem(user_id, device_id);
who holds an endpoint (a phone that changes accounts) .... GSI by_endpoint (endpoint_arn)
"""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.models.base import now, register, table_meta


class DevicesByEndpoint(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_endpoint"
        projection = KeysOnlyProjection()

    endpoint_arn = UnicodeAttribute(hash_key=True)


@register
class Device(Model):
    Meta = table_meta("devices")

    user_id = UnicodeAttribute(hash_key=True)
    device_id = UnicodeAttribute(range_key=True)  # sha256(platform:token)[:24]: one row per physical device
    platform = UnicodeAttribute()  # apns | fcm
    endpoint_arn = UnicodeAttribute()
    created_at = UTCDateTimeAttribute(default=now)
    by_endpoint = DevicesByEndpoint()
