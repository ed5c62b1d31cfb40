"""What the incidents app holds about people (the personal-data registry, DESIGN.md, SEC-1):
that a person was affected by a breach incident, and the notice delivered to them. Uploaded
lists are never stored: only the accounts they matched."""

from django.utils.translation import gettext_lazy as _

from lib.registry import KEEP, KEEP_ROW, Field, Keep, actor, registry

FIVE_YEARS = 5 * 365

registry.category(
    "security_incidents",
    _("Security incidents"),
    _(
        "That a security incident concerned your personal data, and when and how we notified "
        "you of it."
    ),
    _("Legal obligation to notify the people affected by a breach (PIPL art. 57)."),
    _("5 years after the incident; the record stays when the account is deleted."),
    order=70,
)

_KEEP_PROOF = Keep(
    _(
        "Proof of who was affected by a breach and that they were notified (PIPL art. 57); "
        "after an account's deletion the rows refer to it only by its number."
    ),
    days=FIVE_YEARS,
)

registry.declare(
    "incidents.AffectedPerson",
    "security_incidents",
    owner="user_id",
    erase=KEEP_ROW,
    keep=_KEEP_PROOF,
    fields=(
        Field("user", export=False, erase=KEEP, keep=_KEEP_PROOF),
        Field("added_at", erase=KEEP, keep=_KEEP_PROOF),
        actor("added_by"),
    ),
    context=("incident__reference", "incident__detected_at", "source"),
    clocks={"created": "added_at"},
)

registry.declare(
    "incidents.IncidentDelivery",
    "security_incidents",
    owner="user_id",
    erase=KEEP_ROW,
    keep=_KEEP_PROOF,
    fields=(
        Field("user", export=False, erase=KEEP, keep=_KEEP_PROOF),
        Field("created_at", erase=KEEP, keep=_KEEP_PROOF),
        Field("seen_at", erase=KEEP, keep=_KEEP_PROOF),
    ),
    context=("incident__reference", "channels", "announced"),
    clocks={"created": "created_at"},
)

registry.declare(
    "incidents.Incident",
    "staff_activity",
    fields=(actor("created_by"),),
    not_personal={
        "title": "the internal name of an incident, written without names of people",
        "description": "the account of an incident (about the platform, not about one person)",
        "containment": "the steps taken against an incident",
        "data_categories": "codes of the registry's data categories",
        "notice_summary_en": "the text of a notice to the people affected",
        "notice_summary_zh": "the text of a notice to the people affected",
        "notice_measures_en": "the text of a notice to the people affected",
        "notice_measures_zh": "the text of a notice to the people affected",
        "notice_advice_en": "the text of a notice to the people affected",
        "notice_advice_zh": "the text of a notice to the people affected",
    },
)

registry.declare(
    "incidents.NotificationRun",
    "staff_activity",
    fields=(actor("started_by"),),
    not_personal={"by_email": "whether a notice went by e-mail (a choice, not an address)"},
)
