"""Import every model module so ``ALL_MODELS`` is complete (resources and infrastructure use this).

Each ``noqa: F401`` below: the module is imported for its side effect, registering its models."""

from chalicelib.models import autoinvite as _autoinvite  # noqa: F401
from chalicelib.models import base
from chalicelib.models import cart as _cart  # noqa: F401
from chalicelib.models import chat as _chat  # noqa: F401
from chalicelib.models import creator_payments as _creator_payments  # noqa: F401
from chalicelib.models import creators as _creators  # noqa: F401
from chalicelib.models import delivery as _delivery  # noqa: F401
from chalicelib.models import devices as _devices  # noqa: F401
from chalicelib.models import engagement as _engagement  # noqa: F401
from chalicelib.models import events as _events  # noqa: F401
from chalicelib.models import galleries as _galleries  # noqa: F401
from chalicelib.models import idempotency as _idempotency  # noqa: F401
from chalicelib.models import invitations as _invitations  # noqa: F401
from chalicelib.models import jobs as _jobs  # noqa: F401
from chalicelib.models import ledger as _ledger  # noqa: F401
from chalicelib.models import moderation as _moderation  # noqa: F401
from chalicelib.models import notifications as _notifications  # noqa: F401
from chalicelib.models import orders as _orders  # noqa: F401
from chalicelib.models import photos as _photos  # noqa: F401
from chalicelib.models import ratings as _ratings  # noqa: F401
from chalicelib.models import realtime as _realtime  # noqa: F401
from chalicelib.models import rsvp as _rsvp  # noqa: F401
from chalicelib.models import sales_stats as _sales_stats  # noqa: F401
from chalicelib.models import search as _search  # noqa: F401
from chalicelib.models import social as _social  # noqa: F401
from chalicelib.models import subscriptions as _subscriptions  # noqa: F401
from chalicelib.models import twofactor as _twofactor  # noqa: F401
from chalicelib.models import users as _users  # noqa: F401


def all_models():
    return list(base.ALL_MODELS)
