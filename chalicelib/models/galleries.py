"""Client galleries: a photographer's clients, the photos assigned to them, their order stats, price sheets.

Access patterns (every listing is a Query on a key or an index; see docs/galleries.md):
- a client of the caller ...................... Clients GetItem(photographer_id, client_id): another
                                                photographer's client is simply not found
- the caller's clients, newest first .......... Clients Query(photographer_id), range client_id (time-sortable)
- a user's client records (as buyer) .......... Clients GSI by_user (user_id, photographer_id), sparse (set once
                                                active); one seller: the same Query with photographer_id = S
- pending invitations of an email ............. Clients GSI invitations_by_email (pending_email, client_id),
                                                KEYS_ONLY, sparse: set only while the client is ``invited``
- one client per email per photographer ....... ClientEmails conditional PutItem(photographer_id, email) in the
                                                client's creating transaction
- assigned photos of a user, newest first ..... ClientPhotos Query(grantee = user id), range photo_id (photo ids
                                                are time-sortable: newest photo first)
- is this page of photos assigned to me? ...... ClientPhotos BatchGet((user id, photo_id) ...)
- a user's assigned photos in one event ....... ClientPhotos GSI by_grantee_event (grantee_event, photo_id),
                                                KEYS_ONLY, sparse (event photos only)
- a client's assignment rows .................. ClientPhotos GSI by_client (client_id, photo_id), KEYS_ONLY
                                                (removal and re-keying jobs)
- an order counted in a client's stats? ....... ClientOrders conditional PutItem(client_id, order_id) in the
                                                transaction that adds to the counters (TTL)
- a price sheet of the caller ................. PriceSheets GetItem(photographer_id, price_sheet_id)
- the caller's price sheets, newest first ..... PriceSheets Query(photographer_id)
- a photographer's default sheet .............. PriceSheetDefaults GetItem(photographer_id) (several sellers:
                                                BatchGet), then the sheet

``grantee`` of an assignment row is the client's user id once the client is ``active``, else the client id
(``c_...``): an invitation's rows are re-keyed to the user id by the ``client.activated`` job.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.errors import ConflictError
from chalicelib.models.base import (
    DeleteError,
    TransactWriteError,
    UpdateError,
    cancellation_codes,
    condition_failed,
    connection,
    keys_only_index,
    now,
    register,
    table_meta,
)

INVITED, ACTIVE = "invited", "active"
MAX_ITEMS = 100  # items of one price sheet
CLIENT_ORDER_TTL_DAYS = 90  # the "counted" marker outlives every redelivery of order.paid (jobs: 30 days)


def plausible_id(value: str | None, prefix: str = "") -> bool:
    """An id from a URL that we could have minted (anything else must not reach DynamoDB as a key)."""
    return value is not None and 0 < len(value) <= 64 and value.startswith(prefix)


# ---- clients -------------------------------------------------------------------------------------------------


class ClientsByUser(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_user"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    photographer_id = UnicodeAttribute(range_key=True)


@register
class Client(Model):
    Meta = table_meta("clients")

    photographer_id = UnicodeAttribute(hash_key=True)
    client_id = UnicodeAttribute(range_key=True)
    email = UnicodeAttribute()  # normalised as accounts does
    name = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default=INVITED)  # invited | active
    user_id = UnicodeAttribute(null=True)  # the client's account, once active (sparse index by_user)
    pending_email = UnicodeAttribute(null=True)  # = email while invited (sparse index invitations_by_email)
    price_sheet_id = UnicodeAttribute(null=True)  # None: the photographer's default sheet applies
    orders_count = NumberAttribute(default=0)
    spent_cents: MapAttribute[str, Any] = MapAttribute(default=dict)  # currency -> minor units
    last_currency = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute(default=now)
    activated_at = UTCDateTimeAttribute(null=True)

    by_user = ClientsByUser()
    invitations_by_email = keys_only_index(
        "clients", "invitations_by_email", "pending_email", "client_id", UnicodeAttribute
    )

    @property
    def grantee(self) -> str:
        """The hash key of this client's assignment rows."""
        return self.user_id if self.status == ACTIVE and self.user_id else self.client_id


@register
class ClientEmail(Model):
    """One client per (photographer, email): written with the client, removed with it."""

    Meta = table_meta("client_emails")

    photographer_id = UnicodeAttribute(hash_key=True)
    email = UnicodeAttribute(range_key=True)
    client_id = UnicodeAttribute()


@register
class ClientPhoto(Model):
    """One photo assigned to one client."""

    Meta = table_meta("client_photos")

    grantee = UnicodeAttribute(hash_key=True)  # the client's user id once active, else the client id
    photo_id = UnicodeAttribute(range_key=True)
    client_id = UnicodeAttribute()
    photographer_id = UnicodeAttribute()
    event_id = UnicodeAttribute(null=True)
    grantee_event = UnicodeAttribute(null=True)  # "<grantee>#<event_id>" for event photos (sparse)
    assigned_at = UTCDateTimeAttribute(default=now)

    by_client = keys_only_index("client_photos", "by_client", "client_id", "photo_id", UnicodeAttribute)
    by_grantee_event = keys_only_index(
        "client_photos", "by_grantee_event", "grantee_event", "photo_id", UnicodeAttribute
    )


@register
class ClientOrder(Model):
    """``order_id`` was counted in ``client_id``'s stats (written in the same transaction as the counters)."""

    Meta = table_meta("client_orders")

    client_id = UnicodeAttribute(hash_key=True)
    order_id = UnicodeAttribute(range_key=True)
    amount_cents = NumberAttribute()
    currency = UnicodeAttribute()
    counted_at = UTCDateTimeAttribute(default=now)
    expires_at = TTLAttribute(null=True)


# ---- price sheets --------------------------------------------------------------------------------------------


class SheetItem(MapAttribute[str, Any]):
    sku = UnicodeAttribute()
    kind = UnicodeAttribute()  # digital | print
    label = UnicodeAttribute()
    price_cents = NumberAttribute()
    variant = UnicodeAttribute(null=True)  # digital: large | original
    license = UnicodeAttribute(null=True)  # digital: personal | commercial
    width_in = NumberAttribute(null=True)  # print
    height_in = NumberAttribute(null=True)
    paper = UnicodeAttribute(null=True)
    frame = UnicodeAttribute(null=True)
    fulfilment = UnicodeAttribute(null=True)  # lab | self


@register
class PriceSheet(Model):
    Meta = table_meta("price_sheets")

    photographer_id = UnicodeAttribute(hash_key=True)
    price_sheet_id = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    currency = UnicodeAttribute()
    items = ListAttribute(of=SheetItem, default=list)
    is_default = BooleanAttribute(default=False)
    created_at = UTCDateTimeAttribute(default=now)
    updated_at = UTCDateTimeAttribute(default=now)
    version = VersionAttribute()


@register
class PriceSheetDefault(Model):
    """The photographer's default sheet (one row per photographer; changed in a transaction with the sheets)."""

    Meta = table_meta("price_sheet_defaults")

    photographer_id = UnicodeAttribute(hash_key=True)
    price_sheet_id = UnicodeAttribute()


# ---- access patterns: clients --------------------------------------------------------------------------------


def client(photographer_id: str, client_id: str, *, consistent: bool = False) -> Client | None:
    if not (plausible_id(photographer_id) and plausible_id(client_id, "c_")):
        return None
    try:
        return Client.get(photographer_id, client_id, consistent_read=consistent)
    except Client.DoesNotExist:
        return None


def client_id_by_email(photographer_id: str, email: str) -> str | None:
    try:
        return ClientEmail.get(photographer_id, email, consistent_read=True).client_id
    except ClientEmail.DoesNotExist:
        return None


def create_client(row: Client) -> None:
    """The client and its (photographer, email) key in one transaction; 409 if that email is a client already."""
    try:
        with _tx() as tx:
            tx.save(row, condition=Client.client_id.does_not_exist())
            tx.save(
                ClientEmail(photographer_id=row.photographer_id, email=row.email, client_id=row.client_id),
                condition=ClientEmail.email.does_not_exist(),
            )
    except TransactWriteError as exc:
        if "ConditionalCheckFailed" in cancellation_codes(exc):
            raise ConflictError(
                "That email address is already one of your clients.",
                code="client_exists",
                details={"email": "already a client"},
            ) from exc
        raise


def clients_of(photographer_id: str, limit: int | None = None, last_key: dict | None = None):
    return Client.query(photographer_id, scan_index_forward=False, limit=limit, last_evaluated_key=last_key)


def client_records_of_user(user_id: str, photographer_id: str | None = None, limit: int | None = None):
    condition = Client.photographer_id == photographer_id if photographer_id else None
    return Client.by_user.query(user_id, range_key_condition=condition, limit=limit)


def pending_invitations(email: str, limit: int):
    return Client.invitations_by_email.query(email, limit=limit)


def activate(row: Client, user_id: str) -> bool:
    """invited -> active for ``user_id``; False if it was not invited any more (or is gone)."""
    try:
        row.update(
            actions=[
                Client.status.set(ACTIVE),
                Client.user_id.set(user_id),
                Client.pending_email.remove(),
                Client.activated_at.set(now()),
            ],
            condition=Client.client_id.exists() & (Client.status == INVITED),
        )
    except UpdateError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def set_client_sheet(row: Client, price_sheet_id: str | None) -> bool:
    attr = Client.price_sheet_id
    try:
        row.update(
            actions=[attr.set(price_sheet_id) if price_sheet_id else attr.remove()], condition=Client.client_id.exists()
        )
    except UpdateError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def delete_client_rows(row: Client, tx: Any) -> None:
    """Add the client's own rows (not its assignments) to ``tx``."""
    tx.delete(row, condition=Client.client_id.exists())
    tx.delete(ClientEmail(photographer_id=row.photographer_id, email=row.email))


def count_order(row: Client, order_id: str, amount_cents: int, currency: str, expires_at: Any) -> bool:
    """Add one order and its amount to the client's stats, once per order: the marker row and the counters in
    one transaction. False when the order was counted before (or the client is gone)."""
    spent = Client.spent_cents[currency]
    try:
        with _tx() as tx:
            tx.save(
                ClientOrder(
                    client_id=row.client_id,
                    order_id=order_id,
                    amount_cents=amount_cents,
                    currency=currency,
                    expires_at=expires_at,
                ),
                condition=ClientOrder.order_id.does_not_exist(),
            )
            tx.update(
                Client(photographer_id=row.photographer_id, client_id=row.client_id),
                actions=[
                    Client.orders_count.add(1),
                    spent.set((spent | 0) + amount_cents),
                    Client.last_currency.set(currency),
                ],
                condition=Client.client_id.exists(),
            )
    except TransactWriteError as exc:
        if "ConditionalCheckFailed" in cancellation_codes(exc):
            return False
        raise
    return True


# ---- access patterns: assignments ----------------------------------------------------------------------------


def assignment_row(row: Client, photo_id: str, event_id: str | None) -> ClientPhoto:
    grantee = row.grantee
    return ClientPhoto(
        grantee=grantee,
        photo_id=photo_id,
        client_id=row.client_id,
        photographer_id=row.photographer_id,
        event_id=event_id,
        grantee_event=f"{grantee}#{event_id}" if event_id else None,
    )


def save_assignments(rows: Iterable[ClientPhoto]) -> int:
    """Idempotent puts (assigning a photo twice keeps one row)."""
    n = 0
    with ClientPhoto.batch_write() as batch:
        for r in rows:
            batch.save(r)
            n += 1
    return n


def delete_assignments(keys: Iterable[tuple[str, str]]) -> None:
    with ClientPhoto.batch_write() as batch:
        for grantee, photo_id in keys:
            batch.delete(ClientPhoto(grantee=grantee, photo_id=photo_id))


def assignments_of_client(client_id: str, limit: int, last_key: dict | None = None):
    return ClientPhoto.by_client.query(client_id, limit=limit, last_evaluated_key=last_key)


def assignments_in(grantee: str, photo_ids: Iterable[str]) -> dict[str, ClientPhoto]:
    """Which of these photos are assigned to ``grantee``: one BatchGetItem per 100."""
    keys = [(grantee, p) for p in dict.fromkeys(photo_ids)]
    return {a.photo_id: a for a in ClientPhoto.batch_get(keys)} if keys else {}


def gallery_query(user_id: str, limit: int, last_key: dict | None = None):
    return ClientPhoto.query(user_id, scan_index_forward=False, limit=limit, last_evaluated_key=last_key)


def gallery_in_event(user_id: str, event_id: str, limit: int, last_key: dict | None = None):
    return ClientPhoto.by_grantee_event.query(
        f"{user_id}#{event_id}", scan_index_forward=False, limit=limit, last_evaluated_key=last_key
    )


def delete_assignment(grantees: Iterable[str], photo_id: str) -> bool:
    """Delete the photo's row under each of the client's possible grantees; True if one existed."""
    found = False
    for grantee in dict.fromkeys(grantees):
        try:
            ClientPhoto(grantee=grantee, photo_id=photo_id).delete(condition=ClientPhoto.photo_id.exists())
            found = True
        except DeleteError as exc:
            if not condition_failed(exc):
                raise
    return found


# ---- access patterns: price sheets ---------------------------------------------------------------------------


def sheet(photographer_id: str, price_sheet_id: str, *, consistent: bool = False) -> PriceSheet | None:
    if not (plausible_id(photographer_id) and plausible_id(price_sheet_id, "ps_")):
        return None
    try:
        return PriceSheet.get(photographer_id, price_sheet_id, consistent_read=consistent)
    except PriceSheet.DoesNotExist:
        return None


def sheets_of(photographer_id: str, limit: int | None = None, last_key: dict | None = None):
    return PriceSheet.query(photographer_id, scan_index_forward=False, limit=limit, last_evaluated_key=last_key)


def sheets_by_keys(keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], PriceSheet]:
    wanted = list(dict.fromkeys(keys))
    return {(s.photographer_id, s.price_sheet_id): s for s in PriceSheet.batch_get(wanted)} if wanted else {}


def default_sheet_id(photographer_id: str, *, consistent: bool = False) -> str | None:
    try:
        return PriceSheetDefault.get(photographer_id, consistent_read=consistent).price_sheet_id
    except PriceSheetDefault.DoesNotExist:
        return None


def default_sheet_ids(photographer_ids: Iterable[str]) -> dict[str, str]:
    ids = list(dict.fromkeys(photographer_ids))
    return {d.photographer_id: d.price_sheet_id for d in PriceSheetDefault.batch_get(ids)} if ids else {}


def write_sheet(row: PriceSheet, *, new: bool, default_change: tuple[str | None, bool] | None) -> None:
    """Save the sheet (new: does not exist yet; else: its version unchanged) and, when ``default_change`` is
    (the current default id, make this one default?), move the photographer's default in the same transaction:
    the old default sheet is unmarked, the pointer row is conditioned on the default we read (409 on a race)."""
    try:
        with _tx() as tx:
            if new:
                tx.save(row, condition=PriceSheet.price_sheet_id.does_not_exist())
            else:
                tx.save(row)  # the VersionAttribute adds the version condition
            if default_change is not None:
                current, make_default = default_change
                pointer = PriceSheetDefault(photographer_id=row.photographer_id, price_sheet_id=row.price_sheet_id)
                guard = (
                    PriceSheetDefault.price_sheet_id == current
                    if current
                    else PriceSheetDefault.photographer_id.does_not_exist()
                )
                if make_default:
                    tx.save(pointer, condition=guard)
                    if current and current != row.price_sheet_id:
                        tx.update(
                            PriceSheet(photographer_id=row.photographer_id, price_sheet_id=current),
                            actions=[PriceSheet.is_default.set(False)],
                            condition=PriceSheet.price_sheet_id.exists(),
                            add_version_condition=False,  # whatever else changed in it, it is not the default
                        )
                elif current == row.price_sheet_id:
                    tx.delete(pointer, condition=guard)
    except TransactWriteError as exc:
        if "ConditionalCheckFailed" in cancellation_codes(exc):
            raise ConflictError("The price sheets changed concurrently; reload and retry.") from exc
        raise


def delete_sheet(row: PriceSheet) -> None:
    """The sheet and, when it is the default, the pointer row (conditioned on it still pointing here)."""
    try:
        with _tx() as tx:
            tx.delete(row, condition=PriceSheet.price_sheet_id.exists())
            if row.is_default:
                tx.delete(
                    PriceSheetDefault(photographer_id=row.photographer_id),
                    condition=PriceSheetDefault.price_sheet_id == row.price_sheet_id,
                )
    except TransactWriteError as exc:
        if "ConditionalCheckFailed" in cancellation_codes(exc):
            raise ConflictError("The price sheet changed concurrently; reload and retry.") from exc
        raise


def delete_sheets_of(photographer_id: str, limit: int) -> int:
    """Delete up to ``limit`` of the photographer's sheets (and the default pointer); how many there were."""
    rows = list(PriceSheet.query(photographer_id, attributes_to_get=["photographer_id", "price_sheet_id"], limit=limit))
    with PriceSheet.batch_write() as batch:
        for r in rows:
            batch.delete(r)
    PriceSheetDefault(photographer_id=photographer_id).delete()
    return len(rows)


def _tx() -> Any:
    from pynamodb.transactions import TransactWrite

    return TransactWrite(connection=connection())
