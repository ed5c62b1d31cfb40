"""Account deletion (RGT-3): scheduled with a cooling-off period, cancelled by signing in, then
carried out through the registry, with a signed certificate.

Carrying it out, in one transaction: the person's open requests are withdrawn, every registry
entry about them is erased as declared (sessions, codes, exports, verifications, messages,
attachments; requests, the consent ledger, logs and the audit trail keep only what the registry
declares, without values), the user row becomes a tombstone without phone, e-mail, username or
birth date, and the erasure ledger and the certificate record it. Files go after the commit
(lifecycle.erasure). Foreign keys stay valid and the consent ledger's hash chain still verifies,
because no row that others point to is deleted.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from notifications.services import enqueue
from requests import workflow
from requests.models import OPEN_STATES, DataSubjectRequest

from . import certificates, emails, erasure, holds
from .models import AccountDeletion, ErasureRecord

logger = logging.getLogger(__name__)
SESSION_FLAG = "lifecycle_deletion_scheduled"


class DeletionError(Exception):
    """A user-facing reason why an account cannot be scheduled for deletion."""


def cooling_off() -> timedelta:
    return timedelta(days=settings.ACCOUNT_DELETION_COOLING_OFF_DAYS)


def scheduled_for(user) -> AccountDeletion | None:
    return AccountDeletion.objects.filter(
        user=user, status=AccountDeletion.Status.SCHEDULED
    ).first()


def schedule(
    user, *, channel, request_reference="", actor=None, execute_after=None, now=None, notify=True
) -> AccountDeletion:
    """Schedule the deletion of ``user``'s account; the same deletion if one is scheduled.
    Every session of the account ends: signing in again offers to cancel."""
    if user.is_erased:
        raise DeletionError(_("This account has already been deleted."))
    if user.is_staff or user.is_superuser:
        raise DeletionError(
            _("Staff accounts are closed by an administrator, not through account deletion.")
        )
    now = now or timezone.now()
    from accounts.sessions import end_sessions

    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        existing = scheduled_for(user)
        if existing is not None:
            return existing
        try:
            with transaction.atomic():
                deletion = AccountDeletion.objects.create(
                    user=user,
                    channel=channel,
                    request_reference=request_reference,
                    requested_by=actor,
                    requested_at=now,
                    execute_after=execute_after or now + cooling_off(),
                )
        except IntegrityError:
            return scheduled_for(user)
        end_sessions(user)
        if notify:
            enqueue([d for d in [emails.deletion_scheduled(deletion)] if d])
    return deletion


def cancel(user, now=None) -> AccountDeletion | None:
    """Cancel the scheduled deletion of ``user``'s account (signed in, during the cooling-off
    period). Returns the cancelled deletion, or None if none was scheduled."""
    with transaction.atomic():
        deletion = (
            AccountDeletion.objects.select_for_update()
            .filter(user=user, status=AccountDeletion.Status.SCHEDULED)
            .first()
        )
        if deletion is None:
            return None
        deletion.status = AccountDeletion.Status.CANCELLED
        deletion.cancelled_at = now or timezone.now()
        deletion.save(update_fields=["status", "cancelled_at"])
        enqueue([d for d in [emails.deletion_cancelled(deletion)] if d])
    return deletion


def _withdraw_open_requests(user):
    for req in DataSubjectRequest.objects.filter(requester=user, state__in=OPEN_STATES):
        try:
            workflow.withdraw(req, user, detail=_("The account was deleted."))
        except workflow.TransitionError:
            continue  # closed meanwhile


def execute(deletion_id: int, now=None, actor=None) -> AccountDeletion | None:
    """Carry out a scheduled deletion whose cooling-off has ended. Returns it, or None when
    there was nothing to do (cancelled, done, not yet due, or taken by another worker).
    ``actor``: the staff member carrying it out early (else whoever asked for it)."""
    now = now or timezone.now()
    User = get_user_model()
    with transaction.atomic():
        deletion = (
            AccountDeletion.objects.select_for_update(skip_locked=True)
            .filter(pk=deletion_id, status=AccountDeletion.Status.SCHEDULED, execute_after__lte=now)
            .first()
        )
        if deletion is None:
            return None
        user = User.objects.select_for_update().get(pk=deletion.user_id)
        held = holds.held_for(user, now)
        if held.whole or "account" in held.categories:
            # A legal hold keeps the person identifiable: the deletion waits until it ends.
            logger.warning("Account deletion %s waits for a legal hold", deletion.pk)
            return None
        _withdraw_open_requests(user)
        report = erasure.erase(
            user,
            reason=ErasureRecord.Reason.ACCOUNT_DELETION,
            request_reference=deletion.request_reference,
            actor=actor or deletion.requested_by,
            deletion=deletion,
            now=now,
        )
        strip_roles(user)
        deletion.status = AccountDeletion.Status.DONE
        deletion.executed_at = now
        deletion.backups_expire_at = report.record.backups_expire_at
        deletion.certificate = certificates.payload(deletion, report)
        deletion.signature, deletion.key_id = certificates.sign(deletion.certificate)
        deletion.save()
    return deletion


def strip_roles(user):
    """Staff flags and roles do not survive an account deletion (the row is a tombstone)."""
    User = get_user_model()
    User.objects.filter(pk=user.pk).update(is_staff=False, is_superuser=False)
    User.groups.through.objects.filter(user_id=user.pk).delete()
    User.user_permissions.through.objects.filter(user_id=user.pk).delete()


def delete_now(
    user, *, actor=None, channel=AccountDeletion.Channel.STAFF, request_reference="", now=None
):
    """Delete an account at once, without the cooling-off period: for a deletion whose
    requester staff have verified (``manage.py delete_account --now``)."""
    now = now or timezone.now()
    deletion = scheduled_for(user)
    if deletion is None:
        deletion = schedule(
            user,
            channel=channel,
            request_reference=request_reference,
            actor=actor,
            execute_after=now,
            now=now,
            notify=False,  # carried out at once: no "will be deleted on" message
        )
    AccountDeletion.objects.filter(pk=deletion.pk, status=AccountDeletion.Status.SCHEDULED).update(
        execute_after=now
    )
    return execute(deletion.pk, now=now, actor=actor)


def due_ids(now=None, limit: int = 100) -> list[int]:
    now = now or timezone.now()
    return list(
        AccountDeletion.objects.filter(
            status=AccountDeletion.Status.SCHEDULED, execute_after__lte=now
        )
        .order_by("execute_after")
        .values_list("pk", flat=True)[:limit]
    )


def run_due(now=None, limit: int = 100) -> int:
    """Carry out every deletion whose cooling-off has ended (beat, every 15 minutes); each in
    its own transaction, so one failure does not hold the others back."""
    done = 0
    for pk in due_ids(now, limit):
        try:
            if execute(pk, now=now) is not None:
                done += 1
        except Exception:  # left scheduled: the next run tries it again
            logger.exception("Account deletion %s failed", pk)
    return done


def flag_pending_deletion(sender, request, user, **kwargs):
    """At sign-in: a scheduled deletion makes the account center offer to cancel it."""
    session = getattr(request, "session", None)
    if session is None or user is None:
        return
    if AccountDeletion.objects.filter(user=user, status=AccountDeletion.Status.SCHEDULED).exists():
        session[SESSION_FLAG] = True
    else:
        session.pop(SESSION_FLAG, None)


def certificate_status(code: str):
    """(deletion, signature valid) for a certificate code, or (None, False)."""
    deletion = AccountDeletion.objects.filter(code=code).first()
    if deletion is None:
        return None, False
    valid = deletion.status == AccountDeletion.Status.DONE and certificates.verify(
        deletion.certificate, deletion.signature, deletion.key_id
    )
    return deletion, valid
