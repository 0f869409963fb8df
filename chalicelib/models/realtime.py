"""Open WebSocket connections.

Access patterns:
- connection by id (disconnect, delivery failure) .... Connections GetItem/DeleteItem(connection_id)
- open connections of a user (fan-out) .............. Connections GSI by_user(user_id)
- ... with the login each was opened by .............. that Query, then one BatchGet of the rows
Rows expire by TTL (API Gateway closes connections after 2 hours at most).
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.models.base import at_epoch, epoch, now, register, table_meta

CONNECTION_MAX_AGE = 2 * 3600  # API Gateway's hard limit on a WebSocket connection's life
CONNECTION_TTL = CONNECTION_MAX_AGE + 600


class ConnectionsByUser(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_user"
        projection = KeysOnlyProjection()

    user_id = UnicodeAttribute(hash_key=True)
    connection_id = UnicodeAttribute(range_key=True)


@register
class Connection(Model):
    Meta = table_meta("connections")

    connection_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    family_id = UnicodeAttribute(null=True)  # the login the token came from: frames stop when it ends
    session_gen = NumberAttribute(null=True)  # the token's session generation (User.session_gen); none: 0
    connected_at = UTCDateTimeAttribute(default=now)
    expires_at = TTLAttribute()
    by_user = ConnectionsByUser()


def add_connection(
    connection_id: str, user_id: str, family_id: str | None = None, session_gen: int | None = None
) -> None:
    row = Connection(connection_id=connection_id, user_id=user_id, family_id=family_id, session_gen=session_gen)
    row.expires_at = at_epoch(epoch() + CONNECTION_TTL)
    row.save()


def remove_connection(connection_id: str) -> None:
    Connection(connection_id=connection_id).delete()


def connection_owner(connection_id: str) -> str | None:
    row = connection_by_id(connection_id)
    return row.user_id if row else None


def connection_by_id(connection_id: str) -> Connection | None:
    try:
        return Connection.get(connection_id)
    except Connection.DoesNotExist:
        return None


def connections_of_user(user_id: str) -> list[str]:
    return [c.connection_id for c in Connection.by_user.query(user_id)]


def connection_rows_of_user(user_id: str) -> list[Connection]:
    """The user's open connections with their login family: one Query of the index, one BatchGet."""
    ids = connections_of_user(user_id)
    if not ids:
        return []
    return list(Connection.batch_get(ids))


def connection_rows(connection_ids: list[str]) -> list[Connection]:
    """These connections' rows, one BatchGet (a gone connection has none)."""
    return list(Connection.batch_get(list(dict.fromkeys(connection_ids)))) if connection_ids else []


def outlived(row: Connection) -> bool:
    """Older than any WebSocket connection can be: the gateway has closed it, whatever the row says."""
    return epoch(row.connected_at) < epoch() - CONNECTION_MAX_AGE
