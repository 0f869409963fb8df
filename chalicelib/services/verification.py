"""Creator identity verification: submission with a private document upload, the staff queue, the decision.

- ``submit``: a creator (``none`` or ``rejected``) sends legal name, country and the document's description;
  the request row and ``User.creator_verification = pending`` are written in one transaction conditioned on
  the status read (pending or approved: 409), and the answer is a presigned POST pinning the document's key
  ``verification/<user_id>/<request_id>`` in the uploads bucket, its content type and size. That prefix is
  outside ``UPLOAD_PREFIX`` (nothing processes it) and outside the media bucket (no photo route, share link
  or purchase signs it: they sign ``photos/<id>/<variant>`` keys of the media bucket only);
- ``pending_page``: the staff queue (GSI ``by_status``, oldest first), each request with a signed GET of the
  document valid ``DOCUMENT_URL_TTL`` seconds;
- ``decide``: approve or reject (a reason required), in one transaction conditioned on ``pending`` (a
  request already decided: 409; approving one whose document never arrived: 409 ``document_missing``, a
  HeadObject first); then, best effort (logged, never failing the stored decision, whose retry would be a
  409), the document deleted, the ``verification`` notification (stored, live) and an email.
- The submit's POST policy is valid ``DOCUMENT_UPLOAD_TTL`` (10 minutes): a document sent after the decision
  but within it stays under ``verification/``; nothing reads it (no request points at it any more but the
  decided one, whose view signs nothing), and the lifecycle rule expires the prefix after
  ``VERIFICATION_EXPIRY_DAYS`` (a new request, or the account's deletion, removes it sooner).
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib import storage
from chalicelib.config import get_settings
from chalicelib.errors import ConflictError, NotFoundError, ValidationError
from chalicelib.logs import get_logger
from chalicelib.models import creators as store
from chalicelib.models.base import cancellation_codes, new_id, now
from chalicelib.models.creators import CreatorVerification
from chalicelib.models.users import User
from chalicelib.resources import VERIFICATION_PREFIX

log = get_logger(__name__)

DOCUMENT_TYPES = ("image/jpeg", "image/png", "application/pdf")
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
DOCUMENT_URL_TTL = 300  # the staff member's signed GET of a document
DOCUMENT_UPLOAD_TTL = 600  # the creator's presigned POST of it
PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"


def document_key(user_id: str, request_id: str) -> str:
    return f"{VERIFICATION_PREFIX}{user_id}/{request_id}"


def status_of(principal: Any) -> dict[str, Any]:
    status = principal.user.creator_verification or "none"
    out: dict[str, Any] = {"status": status}
    if status == REJECTED:
        row = store.verification(principal.user_id, consistent=True)
        if row is not None and row.reason:
            out["reason"] = row.reason
    return out


def submit(principal: Any, legal_name: str, country: str, filename: str, content_type: str, size: int) -> dict:
    if content_type not in DOCUMENT_TYPES:
        raise ValidationError("Upload a JPEG, PNG or PDF.", details={"document.content_type": "unsupported"})
    if not 0 < size <= MAX_DOCUMENT_BYTES:
        raise ValidationError(
            "The document is too large.", details={"document.size": f"between 1 and {MAX_DOCUMENT_BYTES} bytes"}
        )
    user = principal.user
    status = user.creator_verification or "none"
    if status in (PENDING, APPROVED):
        raise ConflictError(f"Your verification is already {status}.", code=f"verification_{status}")
    previous = store.verification(user.user_id, consistent=True)
    request_id = new_id("v_")
    key = document_key(user.user_id, request_id)
    row = CreatorVerification(
        user_id=user.user_id,
        request_id=request_id,
        status=PENDING,
        legal_name=legal_name,
        country=country,
        document_key=key,
        document_filename=filename,
        document_content_type=content_type,
        document_size=size,
    )
    row_condition = (
        CreatorVerification.user_id.does_not_exist()
        if previous is None
        else CreatorVerification.request_id == previous.request_id
    )
    try:
        with TransactWrite(connection=CreatorVerification._get_connection().connection) as tx:
            tx.save(row, condition=row_condition)
            tx.update(
                User(user_id=user.user_id),
                actions=[User.creator_verification.set(PENDING)],
                condition=User.creator_verification == status
                if status != "none"
                else (User.creator_verification.does_not_exist() | (User.creator_verification == "none")),
            )
    except TransactWriteError as exc:
        if "ConditionalCheckFailed" in cancellation_codes(exc):
            raise ConflictError("Your verification changed meanwhile; look again.") from exc
        raise
    if previous is not None:
        storage.delete_keys(get_settings().uploads_bucket, [previous.document_key])  # a rejected one's, if left
    return {"status": PENDING, "upload": storage.presigned_upload(key, content_type, size, ttl=DOCUMENT_UPLOAD_TTL)}


def request_view(row: CreatorVerification) -> dict[str, Any]:
    from chalicelib.models.base import iso

    return {
        "user_id": row.user_id,
        "request_id": row.request_id,
        "status": row.status,
        "legal_name": row.legal_name,
        "country": row.country,
        "document": {
            "filename": row.document_filename,
            "content_type": row.document_content_type,
            "size": int(row.document_size),
            "url": storage.signed_get(row.document_key, bucket=get_settings().uploads_bucket, ttl=DOCUMENT_URL_TTL)
            if row.status == PENDING
            else None,
        },
        "submitted_at": iso(row.submitted_at),
        "decided_at": iso(row.decided_at) if row.decided_at else None,
        "reason": row.reason,
    }


def page(status: str, limit: int, last_key: dict | None) -> tuple[list[dict[str, Any]], Any]:
    results = store.verifications_in(status, limit, last_key)
    rows = list(results)
    return [request_view(r) for r in rows], results


def decide(staff: Any, user_id: str, approve: bool, reason: str | None) -> dict[str, Any]:
    if not approve and not reason:
        raise ValidationError("Say why it is rejected.", details={"reason": "required to reject"})
    row = store.verification(user_id, consistent=True)
    if row is None:
        raise NotFoundError("No verification request from this user.")
    if row.status != PENDING:
        raise ConflictError(f"This request is already {row.status}.", code="verification_decided")
    if approve and storage.head_upload(row.document_key) is None:
        raise ConflictError(
            "The identity document was never uploaded: it cannot be approved (reject it with a reason).",
            code="document_missing",
        )
    status = APPROVED if approve else REJECTED
    from chalicelib.services import audit

    entry = audit.entry(
        staff.user_id, f"verification.{'approve' if approve else 'reject'}", "user", user_id,
        {"request_id": row.request_id, "reason": reason},
    )  # fmt: skip
    actions: list[Action] = [
        CreatorVerification.status.set(status),
        CreatorVerification.decided_at.set(now()),
        CreatorVerification.decided_by.set(staff.user_id),
        CreatorVerification.reason.set(reason) if reason else CreatorVerification.reason.remove(),
    ]
    try:
        with TransactWrite(connection=CreatorVerification._get_connection().connection) as tx:
            tx.update(
                row,
                actions=actions,
                condition=(CreatorVerification.status == PENDING) & (CreatorVerification.request_id == row.request_id),
            )
            tx.update(
                User(user_id=user_id),
                actions=[User.creator_verification.set(status)],
                condition=User.user_id.exists() & (User.creator_verification == PENDING),
            )
            audit.add_to(tx, entry)
    except TransactWriteError as exc:
        if "ConditionalCheckFailed" in cancellation_codes(exc):
            raise ConflictError("This request was decided meanwhile.", code="verification_decided") from exc
        raise
    # The decision is stored: what follows is best effort (a failure is logged; answering 500 would make staff
    # retry into a 409). A document left behind expires with the lifecycle rule.
    try:
        storage.delete_keys(get_settings().uploads_bucket, [row.document_key])  # the document goes at once
    except Exception:
        log.warning("verification document not deleted", extra={"fields": {"user_id": user_id}}, exc_info=True)
    _tell(row, status, reason)
    return {"user_id": user_id, "status": status, "reason": reason}


def _tell(row: CreatorVerification, status: str, reason: str | None) -> None:
    """The stored notification with its live frame, and an email: each best effort (logged, never raised)
    once the decision is stored."""
    from chalicelib.services import notifications

    target = {"kind": "verification", "status": status, **({"reason": reason} if reason else {})}
    try:
        notifications.notify(row.user_id, "verification", actor_id=None, target=target, dedupe=row.request_id)
    except Exception:
        log.warning("verification notification failed", extra={"fields": {"user_id": row.user_id}}, exc_info=True)
    try:
        _email(row, status, reason)
    except Exception:  # the decision and the notification stand; the email is a courtesy
        log.warning("verification email not sent", extra={"fields": {"user_id": row.user_id}}, exc_info=True)


def _email(row: CreatorVerification, status: str, reason: str | None) -> None:
    from chalicelib.services import mailer
    from chalicelib.services.accounts import users_by_ids

    user = users_by_ids([row.user_id]).get(row.user_id)
    if user is None:
        return
    if status == APPROVED:
        subject = "Your Lightbox creator identity is verified"
        text = "Staff verified your identity. You can now set a plan, lock posts, receive tips and request payouts."
    else:
        subject = "Your Lightbox creator verification was not approved"
        text = f"Staff could not verify your identity: {reason}\n\nYou can submit a new request."
    mailer.send(user.email, subject, text)


def on_user_deleted(payload: dict[str, Any], cursor: Any, limit: int) -> Any:
    """``user.deleted``: the verification request (legal name, country) and any document left go at once."""
    row = store.verification(payload["user_id"], consistent=True)
    if row is not None:
        storage.delete_keys(get_settings().uploads_bucket, [row.document_key])
        row.delete()
    return None
