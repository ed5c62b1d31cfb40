"""Notifying the people affected by an incident, in batches, each person once (SEC-1).

The same approach as consent's campaigns (``consent.campaigns``), so that both behave alike:
``start`` records the incident's ``NotificationRun`` (pending) and queues its task once the
transaction commits. ``run`` claims the pending run with a conditional UPDATE (or continues a
running one), then walks the people affected by user id in batches. Each batch is one
transaction that locks the run row, inserts the deliveries (unique per incident and person),
puts the person's messages into the notification outbox (unique keys
``incident:<id>:<user id>:<channel>``) and advances ``last_user_id``/``delivered``. A crash rolls
back the batch it was in; running again, twice, or in two workers at once notifies nobody twice.
Beat re-queues unfinished runs (``tasks.resume_notifications``).

People added after a run has finished are notified by starting the run again: it walks
everyone anew and skips whoever already has a delivery. When a run finishes, the clock for
the people affected stops (``people_notified_at``), unless it was stopped already.
"""

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from notifications.services import enqueue

from . import notices
from .models import AffectedPerson, Incident, IncidentDelivery, NotificationRun

logger = logging.getLogger(__name__)


class NotificationError(Exception):
    pass


def batch_size() -> int:
    return settings.INCIDENT_NOTIFY_BATCH_SIZE


def _schedule(run_id: int) -> None:
    from .tasks import run_notification as task

    try:
        task.delay(run_id)
    except Exception:  # broker down: the periodic resume_notifications picks it up
        logger.warning("Could not enqueue incident notification %s; beat will resume it", run_id)


def schedule(run: NotificationRun) -> None:
    """Start the run after the current transaction commits."""
    transaction.on_commit(lambda: _schedule(run.pk))


def audience(incident_id: int):
    """The people affected who can be notified: active accounts."""
    return AffectedPerson.objects.filter(
        incident_id=incident_id, user__is_active=True, user__erased_at__isnull=True
    )


def waiting(incident_id: int):
    """The people affected not notified yet."""
    delivered = IncidentDelivery.objects.filter(
        incident_id=OuterRef("incident_id"), user_id=OuterRef("user_id")
    )
    return audience(incident_id).exclude(Exists(delivered))


def in_progress(incident: Incident) -> bool:
    run = NotificationRun.objects.filter(incident=incident).first()
    return run is not None and run.status != NotificationRun.Status.DONE


def can_start(incident: Incident) -> bool:
    return not in_progress(incident) and waiting(incident.pk).exists()


# --- Starting -------------------------------------------------------------------------------------


def start(incident: Incident, *, by_email: bool, by_sms: bool, by_announcement: bool, actor):
    """Notify the people affected not notified yet, by the chosen channels (SEC-1)."""
    if not (by_email or by_sms or by_announcement):
        raise NotificationError(_("Choose at least one way to notify the people affected."))
    missing = notices.missing_texts(incident)
    if missing:
        raise NotificationError(
            _("The notice needs these texts first: %(fields)s.") % {"fields": ", ".join(missing)}
        )
    with transaction.atomic():
        locked = Incident.objects.select_for_update().get(pk=incident.pk)
        run = NotificationRun.objects.select_for_update().filter(incident=locked).first()
        if run is not None and run.status != NotificationRun.Status.DONE:
            raise NotificationError(_("The notification of this incident is already running."))
        if not waiting(locked.pk).exists():
            raise NotificationError(_("Everybody affected has been notified already."))
        values = {
            "by_email": by_email,
            "by_sms": by_sms,
            "by_announcement": by_announcement,
            "status": NotificationRun.Status.PENDING,
            "last_user_id": 0,
            "started_at": timezone.now(),
            "started_by": actor if getattr(actor, "pk", None) else None,
            "finished_at": None,
        }
        if run is None:
            run = NotificationRun.objects.create(incident=locked, **values)
        else:
            for name, value in values.items():
                setattr(run, name, value)
            run.save()
        schedule(run)
    return run


# --- Running --------------------------------------------------------------------------------------


def _claim(run_id: int) -> NotificationRun | None:
    """Move a pending run to running and count its audience; a running one is continued; a
    finished one (or an unknown id) gives None."""
    run = NotificationRun.objects.filter(pk=run_id).first()
    if run is None or run.status == NotificationRun.Status.DONE:
        return None
    if run.status == NotificationRun.Status.PENDING:
        NotificationRun.objects.filter(pk=run_id, status=NotificationRun.Status.PENDING).update(
            status=NotificationRun.Status.RUNNING,
            audience=audience(run.incident_id).count(),
            delivered=IncidentDelivery.objects.filter(incident_id=run.incident_id).count(),
        )
    run.refresh_from_db()
    return run if run.status == NotificationRun.Status.RUNNING else None


def _channels(run: NotificationRun) -> str:
    return ",".join(run.channels)


def _finish(run: NotificationRun, now) -> None:
    NotificationRun.objects.filter(pk=run.pk).update(
        status=NotificationRun.Status.DONE, finished_at=now
    )
    # The clock for the people affected stops when everyone has been notified (SEC-1).
    if not waiting(run.incident_id).exists():
        Incident.objects.filter(pk=run.incident_id, people_notified_at__isnull=True).update(
            people_notified_at=now
        )


def _run_batch(run_id: int, size: int) -> bool:
    """One batch in one transaction; False when there is nobody left."""
    with transaction.atomic():
        run = (
            NotificationRun.objects.select_for_update()
            .filter(pk=run_id, status=NotificationRun.Status.RUNNING)
            .select_related("incident")
            .first()
        )
        if run is None:  # finished by another worker meanwhile
            return False
        people = list(
            waiting(run.incident_id)
            .filter(user_id__gt=run.last_user_id)
            .order_by("user_id")
            .values(
                "user_id",
                "user__email",
                "user__phone",
                "user__preferred_language",
            )[:size]
        )
        if not people:
            _finish(run, timezone.now())
            return False
        ids = [p["user_id"] for p in people]
        already = set(
            IncidentDelivery.objects.filter(
                incident_id=run.incident_id, user_id__in=ids
            ).values_list("user_id", flat=True)
        )
        now = timezone.now()
        IncidentDelivery.objects.bulk_create(
            [
                IncidentDelivery(
                    incident_id=run.incident_id,
                    user_id=pk,
                    channels=_channels(run),
                    announced=run.by_announcement,
                    created_at=now,
                )
                for pk in ids
            ],
            ignore_conflicts=True,
        )
        drafts = []
        if run.by_email or run.by_sms:
            for p in people:
                if p["user_id"] in already:
                    continue
                person = {
                    "id": p["user_id"],
                    "email": p["user__email"],
                    "phone": p["user__phone"],
                    "preferred_language": p["user__preferred_language"],
                }
                drafts.extend(notices.people_drafts(run.incident, person, run.by_email, run.by_sms))
        enqueue(drafts)
        run.last_user_id = ids[-1]
        run.delivered += len(ids) - len(already)
        run.save(update_fields=["last_user_id", "delivered"])
    return True


def run(run_id: int, size: int | None = None, max_batches=None) -> NotificationRun | None:
    """Notify everyone of the run's audience not yet notified, once (see the module docstring).

    ``max_batches`` stops early and leaves the run running (a later run continues where it
    stopped). Returns the run, or None if there was nothing to do.
    """
    size = size or batch_size()
    if size < 1:
        raise ValueError("batch size must be positive")
    claimed = _claim(run_id)
    if claimed is None:
        return None
    batches = 0
    while max_batches is None or batches < max_batches:
        if not _run_batch(run_id, size):
            break
        batches += 1
    claimed.refresh_from_db()
    logger.info(
        "Incident notification %s: %s/%s notified (%s)",
        claimed.pk,
        claimed.delivered,
        claimed.audience,
        claimed.status,
    )
    return claimed


def unfinished_run_ids() -> list[int]:
    return list(
        NotificationRun.objects.filter(
            status__in=[NotificationRun.Status.PENDING, NotificationRun.Status.RUNNING]
        ).values_list("pk", flat=True)
    )


def progress(run: NotificationRun | None) -> int | None:
    """Notified share of the audience in percent (None before the audience is counted)."""
    if run is None or run.status == NotificationRun.Status.PENDING:
        return None
    if not run.audience:
        return 100
    return min(100, round(100 * run.delivered / run.audience))
