"""Account-center snippets for real-name verification and minors (VER-1, MIN-1).

``{% verification_card %}`` shows the latest verification's status; ``{% minors_notice %}`` shows
the guidance for under-18s and the restriction of under-14s without a verified guardian.
"""

from django import template

from verification import services as service
from verification.models import GuardianConsent

register = template.Library()


@register.inclusion_tag("verification/verification_card.html", takes_context=True)
def verification_card(context):
    user = context["request"].user
    return {
        # What the card shows, and nothing more: the sealed document numbers stay sealed.
        "latest": user.verifications.only("user_id", "kind", "status", "submitted_at")
        .order_by("-submitted_at")
        .first(),
        "restricted": service.is_restricted(user),
    }


@register.inclusion_tag("verification/verification_notice.html", takes_context=True)
def minors_notice(context):
    user = context["request"].user
    minor = service.is_minor(user)
    restricted = minor and service.is_restricted(user)
    pending = (
        restricted and user.guardian_consents.filter(status=GuardianConsent.Status.PENDING).exists()
    )
    return {"minor": minor, "restricted": restricted, "guardian_pending": pending}
