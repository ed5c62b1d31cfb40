"""What the consent app holds about people (the personal-data registry, DESIGN.md)."""

from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from lib.registry import DELETE, KEEP, KEEP_ROW, Field, Keep, actor, registry

FIVE_YEARS = 5 * 365

registry.category(
    "consents",
    pgettext_lazy("data category", "Consents"),
    _(
        "Your decisions on optional processing and on policy versions (the consent ledger), "
        "with the wording shown, the browser and the network (never the full address), and the "
        "notices of policy changes sent to you."
    ),
    _(
        "Legal obligation to prove consent and its withdrawal (PIPL art. 14, 15) and to notify "
        "changes (PIPL art. 17)."
    ),
    _(
        "The ledger is append-only and kept for 5 years after the account is deleted; your "
        "current choices are erased with the account."
    ),
    order=50,
)

_KEEP_LEDGER = Keep(
    _(
        "Proof of consent and of its withdrawal (PIPL art. 14, 15). The ledger is append-only and "
        "hash-chained; its rows refer to the account only by its number."
    ),
    days=FIVE_YEARS,
)

registry.declare(
    "consent.ConsentEvent",
    "consents",
    owner="user_id",
    erase=KEEP_ROW,
    keep=_KEEP_LEDGER,
    fields=(
        Field("user", export=False, erase=KEEP, keep=_KEEP_LEDGER),
        Field("evidence", erase=KEEP, keep=_KEEP_LEDGER),
        Field("request_reference", erase=KEEP, keep=_KEEP_LEDGER),
        actor("recorded_by"),
    ),
    context=("id", "action", "purpose__code", "policy_version_id", "channel", "created_at"),
    clocks={"created": "created_at"},
    deletable=False,  # append-only and hash-chained
    # Anonymous visitors' cookie choices: a random cookie id, linked to no account.
    not_personal={"visitor": "a random identifier of an anonymous browser, not of an account"},
)


def _states_of(user):
    from .models import ConsentState

    return ConsentState.objects.filter(subject=f"u:{user.pk}")


registry.declare(
    "consent.ConsentState",
    "consents",
    rows=_states_of,
    erase=DELETE,
    fields=(Field("granted"), Field("updated_at")),
    context=("purpose__code",),
    clocks={"created": "updated_at"},
    owners_q=lambda user_ids: Q(subject__in=[f"u:{pk}" for pk in user_ids]),
)

registry.declare(
    "consent.NoticeSeen",
    "consents",
    owner="user_id",
    erase=DELETE,
    fields=(Field("user", export=False), Field("seen_at")),
    context=("policy_version_id",),
    clocks={"created": "seen_at"},
)

registry.declare(
    "consent.CampaignDelivery",
    "consents",
    owner="user_id",
    erase=KEEP_ROW,
    keep=Keep(
        _("Proof that a notice of a policy or controller change was delivered (PIPL art. 17)."),
        days=FIVE_YEARS,
    ),
    fields=(Field("user", export=False, erase=KEEP), Field("created_at", erase=KEEP)),
    context=("campaign_id",),
    clocks={"created": "created_at"},
)

registry.declare(
    "consent.Campaign",
    "staff_activity",
    fields=(actor("created_by"),),
    not_personal={
        "subject_en": "the text of a notice to every user",
        "subject_zh": "the text of a notice to every user",
        "body_en": "the text of a notice to every user",
        "body_zh": "the text of a notice to every user",
    },
)
registry.declare(
    "consent.PolicyVersion",
    "staff_activity",
    fields=(actor("published_by"),),
    not_personal={
        "body_en": "the text of a policy",
        "body_zh": "the text of a policy",
        "summary_en": "the summary of a policy's changes",
        "summary_zh": "the summary of a policy's changes",
        "significant_categories": "kinds of policy change",
        "recipients_snapshot": "the recipients disclosed with a policy version",
    },
)
registry.not_personal("consent.PolicyDocument", "titles of policy documents")
registry.not_personal("consent.Purpose", "names and descriptions of purposes")
registry.not_personal("consent.Recipient", "names and details of third parties (companies)")
registry.not_personal("consent.LedgerHead", "the last hash of the consent ledger")
