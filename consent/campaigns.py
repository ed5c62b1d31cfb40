"""Notification campaigns: a notice to every user, in batches, each delivery recorded once
(POL-1 significant policy changes, SHR-2 changes of controller).

``run_campaign()`` is set-based and idempotent. It claims a pending campaign with a conditional
UPDATE (or continues a running one), then walks the active users by id in batches; each batch
is one transaction that locks the campaign row, inserts the deliveries (unique per campaign and
user), puts one message per user with an e-mail address into the notification outbox (unique
key ``campaign:<id>:<user id>``) and advances ``last_user_id``/``delivered``. A crash rolls back
the batch it was in; running again, twice, or in two workers at once notifies nobody twice.

The audience is the active users who had joined when the campaign was created (a user who
signs up later sees the new policy at sign-up); it is counted once, when the run starts.
Users without an e-mail address still get a delivery row: the notice shows at their next visit.
These are service messages about how we handle personal data, not marketing (CON-3 does not
gate them).
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from notifications.models import Notification
from notifications.services import Draft, enqueue, render

from .models import Campaign, CampaignDelivery, PolicyVersion

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 500


class CampaignError(Exception):
    pass


def notification_key(campaign_id: int, user_id: int) -> str:
    return f"campaign:{campaign_id}:{user_id}"


def audience_queryset(campaign: Campaign):
    return get_user_model().objects.filter(is_active=True, date_joined__lte=campaign.created_at)


def _absolute(path: str) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def _schedule(campaign_id: int) -> None:
    from .tasks import run_campaign as task

    try:
        task.delay(campaign_id)
    except Exception:  # broker down: the periodic resume_campaigns picks it up
        logger.warning("Could not enqueue campaign %s; beat will resume it", campaign_id)


def schedule(campaign: Campaign) -> None:
    """Start the campaign's run after the current transaction commits."""
    transaction.on_commit(lambda: _schedule(campaign.pk))


# --- Creating campaigns ---------------------------------------------------------------------------


def policy_change_texts(version: PolicyVersion, language: str) -> tuple[str, str]:
    """Subject and body announcing ``version`` in ``language`` ("en" or "zh-hans")."""
    chinese = language.startswith("zh")
    document = version.document
    title = document.title_zh if chinese else document.title_en
    summary = (version.summary_zh if chinese else version.summary_en) or version.summary_en
    effective = date_format(timezone.localtime(version.effective_at), "DATE_FORMAT")
    url = _absolute(
        reverse("consent:version", kwargs={"slug": document.slug, "number": version.number})
    )
    with translation.override(language):
        subject = _("We have updated our %(title)s (version %(number)s)") % {
            "title": title,
            "number": version.number,
        }
        parts = [
            _(
                "We have published version %(number)s of our %(title)s. It applies from "
                "%(date)s. This is a significant change."
            )
            % {"number": version.number, "title": title, "date": effective}
        ]
        if summary:
            parts.append(_("What changes:") + "\n" + summary)
        if version.reduces_rights:
            parts.append(
                _(
                    "This version changes your rights over your data. When you next sign in, "
                    "we will ask you to accept it before you continue to use the service."
                )
            )
        parts.append(_("Read the full text: %(url)s") % {"url": url})
    return str(subject)[:200], "\n\n".join(str(p) for p in parts)


def create_policy_campaign(version: PolicyVersion, actor) -> Campaign:
    """The campaign announcing a significant version; started once the transaction commits."""
    subject_en, body_en = policy_change_texts(version, "en")
    subject_zh, body_zh = policy_change_texts(version, "zh-hans")
    campaign = Campaign.objects.create(
        kind=Campaign.Kind.POLICY_CHANGE,
        policy_version=version,
        subject_en=subject_en,
        subject_zh=subject_zh,
        body_en=body_en,
        body_zh=body_zh,
        created_by=actor,
    )
    schedule(campaign)
    return campaign


def announce_controller_change(subject_en, subject_zh, body_en, body_zh, actor) -> Campaign:
    """Tell every user about a change of controller (merger, acquisition, transfer: SHR-2)."""
    texts = {
        "subject_en": (subject_en or "").strip(),
        "subject_zh": (subject_zh or "").strip(),
        "body_en": (body_en or "").strip(),
        "body_zh": (body_zh or "").strip(),
    }
    if not all(texts.values()):
        raise CampaignError(_("The subject and the message are needed in both languages."))
    if max(len(texts["subject_en"]), len(texts["subject_zh"])) > 200:
        raise CampaignError(_("A subject has at most 200 characters."))
    with transaction.atomic():
        campaign = Campaign.objects.create(
            kind=Campaign.Kind.CONTROLLER_CHANGE, created_by=actor, **texts
        )
        schedule(campaign)
    return campaign


# --- Running them ---------------------------------------------------------------------------------


def _footer():
    return _(
        "You receive this message because you have an account with us. It is a service "
        "message about how we handle your personal data, not advertising."
    )


def _draft(campaign: Campaign, user: dict) -> Draft:
    language = user["preferred_language"] or settings.LANGUAGE_CODE
    chinese = language.startswith("zh")
    text_subject = campaign.subject_zh if chinese else campaign.subject_en
    text_body = campaign.body_zh if chinese else campaign.body_en
    subject, body = render(
        language, lambda: text_subject, lambda: f"{text_body}\n\n-- \n{_footer()}"
    )
    return Draft(
        key=notification_key(campaign.pk, user["id"]),
        recipient_id=user["id"],
        to_email=user["email"] or "",
        subject=subject,
        body=body,
        priority=Notification.Priority.BULK,
    )


def _claim(campaign_id: int) -> Campaign | None:
    """Move a pending campaign to running and count its audience; a running one is continued;
    a finished one (or an unknown id) gives None."""
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None or campaign.status == Campaign.Status.DONE:
        return None
    if campaign.status == Campaign.Status.PENDING:
        audience = audience_queryset(campaign).count()
        Campaign.objects.filter(pk=campaign_id, status=Campaign.Status.PENDING).update(
            status=Campaign.Status.RUNNING, audience=audience
        )
    campaign.refresh_from_db()
    return campaign if campaign.status == Campaign.Status.RUNNING else None


def _run_batch(campaign_id: int, batch_size: int) -> bool:
    """One batch in one transaction; False when there is nobody left."""
    with transaction.atomic():
        campaign = (
            Campaign.objects.select_for_update()
            .filter(pk=campaign_id, status=Campaign.Status.RUNNING)
            .first()
        )
        if campaign is None:  # finished by another worker meanwhile
            return False
        users = list(
            audience_queryset(campaign)
            .filter(pk__gt=campaign.last_user_id)
            .order_by("pk")
            .values("id", "email", "preferred_language")[:batch_size]
        )
        if not users:
            Campaign.objects.filter(pk=campaign_id).update(
                status=Campaign.Status.DONE, finished_at=timezone.now()
            )
            return False
        ids = [u["id"] for u in users]
        already = set(
            CampaignDelivery.objects.filter(campaign_id=campaign_id, user_id__in=ids).values_list(
                "user_id", flat=True
            )
        )
        CampaignDelivery.objects.bulk_create(
            [CampaignDelivery(campaign_id=campaign_id, user_id=pk) for pk in ids],
            ignore_conflicts=True,
        )
        enqueue([_draft(campaign, u) for u in users])
        campaign.last_user_id = ids[-1]
        campaign.delivered += len(ids) - len(already)
        campaign.save(update_fields=["last_user_id", "delivered"])
    return True


def run_campaign(campaign_id: int, batch_size: int = DEFAULT_BATCH_SIZE, max_batches=None):
    """Deliver the campaign to every user of its audience, once (see the module docstring).

    ``max_batches`` stops early and leaves the campaign running (tests use it to simulate a
    crash half-way; a later run continues where it stopped). Returns the campaign, or None if
    there was nothing to do.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    campaign = _claim(campaign_id)
    if campaign is None:
        return None
    batches = 0
    while max_batches is None or batches < max_batches:
        if not _run_batch(campaign_id, batch_size):
            break
        batches += 1
    campaign.refresh_from_db()
    logger.info(
        "Campaign %s: %s/%s delivered (%s)",
        campaign.pk,
        campaign.delivered,
        campaign.audience,
        campaign.status,
    )
    return campaign


def unfinished_campaign_ids() -> list[int]:
    return list(
        Campaign.objects.filter(
            status__in=[Campaign.Status.PENDING, Campaign.Status.RUNNING]
        ).values_list("pk", flat=True)
    )


def progress(campaign: Campaign) -> int | None:
    """Delivered share of the audience in percent (None before the audience is counted)."""
    if campaign.status == Campaign.Status.PENDING:
        return None
    if not campaign.audience:
        return 100
    return min(100, round(100 * campaign.delivered / campaign.audience))
