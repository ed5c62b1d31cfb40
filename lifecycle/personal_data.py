"""What the lifecycle app holds about people (the personal-data registry, DESIGN.md), and the
third-party models without personal data that the completeness check would otherwise flag."""

from django.utils.translation import gettext_lazy as _

from lib.registry import DELETE, KEEP, KEEP_ROW, Field, Keep, actor, registry

registry.category(
    "exports",
    _("Data downloads"),
    _("The copies of your data prepared for you to download."),
    _("Your right to a copy of your data (PIPL art. 45)."),
    _("Deleted when they expire, 7 days after they were prepared."),
    erasable_on_request=True,
    order=70,
)
registry.category(
    "deletion_records",
    _("Deletion records"),
    _(
        "When your data was erased, which categories, and the deletion certificate: never the "
        "data itself, and the account only by its number."
    ),
    _("Proof that erasure was carried out (PIPL art. 47, 54)."),
    _("As long as backups may hold the data, and 3 years at least."),
    order=95,
)

_KEEP_PROOF = Keep(
    _("Proof that the erasure was carried out (PIPL art. 47, 54); it holds no personal data."),
    days=3 * 365,
)

registry.declare(
    "lifecycle.DataExport",
    "exports",
    owner="user_id",
    erase=DELETE,
    fields=(
        Field("file", export=False),
        Field("user", export=False),
        Field("answer", export=False),
        Field("error", export=False),
        actor("requested_by"),
    ),
    context=("requested_at", "status", "finished_at", "expires_at", "downloads"),
    clocks={"created": "requested_at", "closed": "expires_at"},
    request_path="request_id",
)

registry.declare(
    "lifecycle.AccountDeletion",
    "deletion_records",
    owner="user_id",
    erase=KEEP_ROW,
    keep=_KEEP_PROOF,
    fields=(
        Field("user", export=False, erase=KEEP),
        Field("certificate", export=False, erase=KEEP),
        actor("requested_by"),
    ),
    not_personal={"signature": "the certificate's signature"},
    context=("status", "channel", "requested_at", "execute_after", "executed_at", "cancelled_at"),
    clocks={"created": "requested_at", "closed": "executed_at"},
)

registry.declare(
    "lifecycle.ErasureRecord",
    "deletion_records",
    owner="subject_id",
    erase=KEEP_ROW,
    keep=_KEEP_PROOF,
    fields=(Field("report", erase=KEEP), actor("actor")),
    not_personal={
        "categories": "codes of data categories",
        "row_keys": "numbers of the rows a retention rule erased",
    },
    context=("created_at", "reason", "request_reference", "categories", "backups_expire_at"),
    clocks={"created": "created_at", "closed": "backups_expire_at"},
)

registry.declare(
    # A legal hold on a person: not exported (a hold for litigation is not announced to its
    # subject), kept as long as the erasure records.
    "lifecycle.LegalHold",
    "deletion_records",
    owner="user_id",
    erase=KEEP_ROW,
    keep=_KEEP_PROOF,
    fields=(
        Field("user", export=False, erase=KEEP),
        Field("reason", export=False, erase=KEEP),
        actor("created_by"),
    ),
    clocks={"created": "created_at", "closed": "ends_at"},
)

registry.declare(
    "lifecycle.RecipientErasure",
    "deletion_records",
    owner="erasure__subject_id",
    erase=KEEP_ROW,
    keep=_KEEP_PROOF,
    fields=(
        Field("subjects", export=False, erase=KEEP),
        actor("acknowledged_by"),
    ),
    context=("created_at", "recipient__name", "status", "sent_at", "acknowledged_at"),
    clocks={"created": "created_at", "closed": "acknowledged_at"},
    not_personal={"categories": "codes of data categories"},
)

registry.declare(
    "lifecycle.RetentionRule",
    "staff_activity",
    fields=(actor("confirmed_by"),),
    not_personal={"legal_basis": "why a category is kept, in general"},
)

registry.not_personal(
    "lifecycle.PendingFileDeletion", "random storage names of files being removed"
)

for _model in (
    "django_celery_beat.PeriodicTask",
    "django_celery_beat.CrontabSchedule",
    "django_celery_beat.IntervalSchedule",
    "django_celery_beat.SolarSchedule",
    "django_celery_beat.ClockedSchedule",
    "django_celery_beat.PeriodicTasks",
):
    registry.not_personal(_model, "the schedule of background tasks")
