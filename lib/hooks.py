"""Questions a lower layer asks and a higher app answers, without the lower one importing it.

The app that knows the answer registers a function in its ``AppConfig.ready()``; callers ask
through this module (like ``notifications.services.register_key_hooks`` for the outbox).

- Request references: the consent ledger's admin records a decision that staff took down on a
  user's behalf under one of the user's data-subject requests. The requests app sits above
  consent, so it registers the check: ``register_reference_check(fn)``, ``fn(user, reference)
  -> bool``.
"""

import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

ReferenceCheck = Callable[[object, str], bool]

_reference_check: ReferenceCheck | None = None


def register_reference_check(check: ReferenceCheck) -> None:
    """Let the app owning data-subject requests answer whether ``reference`` names one of
    ``user``'s requests. Registering again replaces the check."""
    global _reference_check
    _reference_check = check


def reference_exists(user, reference: str) -> bool:
    """Whether ``reference`` names one of ``user``'s requests.

    Without a registered check nothing can be confirmed, so the answer is no: a reference written
    into evidence (the append-only consent ledger) must be one that exists. The missing
    registration is logged as an error.
    """
    if _reference_check is None:
        logger.error(
            "No request-reference check is registered (lib.hooks.register_reference_check): "
            "reference %r cannot be confirmed and is refused",
            reference,
        )
        return False
    return bool(_reference_check(user, reference))
