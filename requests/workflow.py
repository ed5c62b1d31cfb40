"""The request lifecycle: filing and every state transition (RGT-1..5, SLA-1, SEC-2, MIN-2).

submitted -> in progress <-> awaiting requester -> completed | refused | withdrawn

Each transition locks the row, checks the move is allowed, records an event (public ones form
the requester's timeline), queues the notifications it implies through the outbox, and saves
through the ORM so that django-auditlog records it with the acting user.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from notifications.services import Draft, enqueue, render

from . import fulfilment
from .attachments import store_attachments
from .clock import current_policy
from .models import (
    CLOCK_RUNNING_STATES,
    OPEN_STATES,
    DataSubjectRequest,
    RefusalGround,
    RequestEvent,
    RequestKind,
    RequestState,
)

S = RequestState
E = RequestEvent.Kind

# Kinds that go straight to the DPO's attention when filed (SEC-2, MIN-2).
URGENT_KINDS = {RequestKind.SECURITY_REPORT, RequestKind.MINOR_DELETION}


class TransitionError(Exception):
    """The move is not allowed from the request's current state; the message says why."""


def local_date(value):
    return formats.date_format(timezone.localtime(value), "DATE_FORMAT")


@dataclass(frozen=True)
class Mailbox:
    """The DPO's shared address (DPO_EMAIL), used when no member of the DPO group can be
    reached: an escalation or reminder never goes to nobody."""

    pk: None = None
    email: str = ""
    preferred_language: str = "en"


def dpo_recipients():
    """Active members of the DPO group who have an e-mail address, or else the DPO mailbox."""
    group = Group.objects.filter(name=settings.DPO_GROUP_NAME).first()
    members = []
    if group is not None:
        members = list(
            group.user_set.filter(is_active=True)
            .exclude(email__isnull=True)
            .exclude(email="")
            .only("id", "email", "preferred_language")
        )
    if members or not settings.DPO_EMAIL:
        return members
    return [Mailbox(email=settings.DPO_EMAIL, preferred_language=settings.LANGUAGE_CODE)]


def reachable(user) -> bool:
    return bool(user is not None and user.is_active and user.email)


def draft_to_requester(req, key, subject_fn, body_fn):
    """An outbox draft for the requester, in their language, with a link to the request."""
    user = req.requester

    def body_with_link():
        url = settings.PORTAL_BASE_URL.rstrip("/") + reverse(
            "requests:detail", args=[req.reference]
        )
        link = _("Follow your request in the account center: %(url)s") % {"url": url}
        return f"{body_fn()}\n\n{link}"

    subject, body = render(user.preferred_language, subject_fn, body_with_link)
    return Draft(
        key=f"dsr:{req.pk}:{key}",
        recipient_id=user.pk,
        to_email=user.email or "",
        subject=subject,
        body=body,
    )


def draft_to_staff(req, user, key, subject_fn, body_fn):
    """An outbox draft for a staff member, in their language, with a link to the admin page."""
    subject, body = render(user.preferred_language, subject_fn, body_fn)
    url = settings.PORTAL_BASE_URL.rstrip("/") + reverse(
        "admin:requests_datasubjectrequest_change", args=[req.pk]
    )
    return Draft(
        key=f"dsr:{req.pk}:{key}:{user.pk or 'dpo-mailbox'}",
        recipient_id=user.pk,
        to_email=user.email or "",
        subject=subject,
        body=f"{body}\n\n{url}",
    )


def _event(req, kind, actor=None, public=True, detail="", **data):
    return RequestEvent.objects.create(
        request=req, kind=kind, actor=actor, public=public, detail=detail, data=data
    )


def _discard(attachments):
    """The transaction rolled back: remove the files written for it, so nothing is half-stored."""
    for att in attachments:
        att.file.storage.delete(att.file.name)


# --- Filing -------------------------------------------------------------------------------------


def file_request(
    *,
    requester,
    kind,
    subject,
    description,
    channel="web",
    entered_by=None,
    received_at=None,
    files=(),
    details=None,
):
    """File a request from the account center, or for staff recording one received elsewhere.
    ``details`` are the kind's specifics, already checked by ``fulfilment.clean_details``."""
    req = DataSubjectRequest(
        kind=kind,
        subject=subject,
        description=description,
        details=details or {},
        channel=channel,
        requester=requester,
        entered_by=entered_by,
        received_at=received_at or timezone.now(),
    )
    return save_new_request(req, files=files)


def save_new_request(req, files=()):
    """Give a new request its deadline, reference and first timeline event, in one transaction.

    Staff entering a request received by e-mail or phone give the time it was received: the
    clock starts then, not when it was typed in.
    """
    now = timezone.now()
    if req.received_at is None:
        req.received_at = now
    if req.received_at > now + timedelta(minutes=5):
        raise TransitionError(_("The time of receipt cannot be in the future."))
    deadline = current_policy(req.kind).deadline(req.received_at)
    req.due_at = req.original_due_at = deadline.due_at
    req.due_provisional = deadline.provisional
    req.state = S.SUBMITTED
    stored = []
    try:
        with transaction.atomic():
            req.save()
            req.reference = f"DSR-{timezone.localtime(req.received_at).year}-{req.pk:06d}"
            req.save(update_fields=["reference"])
            _event(req, E.SUBMITTED, actor=req.entered_by or req.requester, channel=req.channel)
            store_attachments(req, None, files, written=stored)
            if req.kind in URGENT_KINDS:
                enqueue(
                    [
                        draft_to_staff(
                            req,
                            user,
                            "urgent",
                            lambda: (
                                _("Urgent request %(ref)s: %(kind)s")
                                % {"ref": req.reference, "kind": req.get_kind_display()}
                            ),
                            lambda: (
                                _(
                                    "A request that needs the DPO's attention has been filed. "
                                    "It is due on %(due)s."
                                )
                                % {"due": local_date(req.due_at)}
                            ),
                        )
                        for user in dpo_recipients()
                    ]
                )
    except Exception:
        _discard(stored)
        raise
    return req


# --- Transitions --------------------------------------------------------------------------------


def _locked(req):
    return (
        DataSubjectRequest.objects.select_for_update(of=("self",))
        .select_related("requester")
        .get(pk=req.pk)
    )


def _require(locked, allowed):
    if locked.state not in allowed:
        raise TransitionError(
            _("This step is not possible while the request is “%(state)s”.")
            % {"state": locked.get_state_display()}
        )


def _refreshed(req):
    """The caller's instance, reloaded with what the transition saved."""
    req.refresh_from_db()
    return req


def assign(req, assignee, actor):
    """Give the request to a staff member (or to nobody, with ``assignee=None``)."""
    if assignee is not None and not (assignee.is_staff and assignee.is_active):
        raise TransitionError(_("Requests can only be assigned to active staff members."))
    with transaction.atomic():
        locked = _locked(req)
        _require(locked, OPEN_STATES)
        locked.assignee = assignee
        locked.save(update_fields=["assignee", "updated_at"])
        _event(locked, E.ASSIGNED, actor=actor, public=False, assignee=assignee and assignee.pk)
    return _refreshed(req)


def start(req, actor):
    """Identity checked, work begins (submitted -> in progress)."""
    with transaction.atomic():
        locked = _locked(req)
        _require(locked, [S.SUBMITTED])
        locked.state = S.IN_PROGRESS
        if locked.assignee_id is None:
            locked.assignee = actor
        locked.save(update_fields=["state", "assignee", "updated_at"])
        _event(locked, E.STARTED, actor=actor)
    return _refreshed(req)


def ask_requester(req, actor, question):
    """Ask the requester for something; the SLA clock pauses until they reply."""
    question = (question or "").strip()
    if not question:
        raise TransitionError(_("Write the question for the requester."))
    with transaction.atomic():
        locked = _locked(req)
        _require(locked, CLOCK_RUNNING_STATES)
        now = timezone.now()
        locked.state = S.AWAITING_REQUESTER
        locked.paused_at = now
        locked.save(update_fields=["state", "paused_at", "updated_at"])
        locked.messages.create(author=actor, from_staff=True, body=question)
        _event(locked, E.AWAITING_REQUESTER, actor=actor, detail=question)
        enqueue(
            [
                draft_to_requester(
                    locked,
                    f"ask:{now.timestamp():.0f}",
                    lambda: (
                        _("We need more information about your request %(ref)s")
                        % {"ref": locked.reference}
                    ),
                    lambda: (
                        _(
                            "To continue with your request we need the following from you:\n\n"
                            "%(question)s\n\nThe time limit for our answer is paused until you "
                            "reply."
                        )
                        % {"question": question}
                    ),
                )
            ]
        )
    return _refreshed(req)


def _resume(locked, actor, now):
    """Restart the clock after a pause: the deadline moves by the days spent waiting."""
    policy = current_policy(locked.kind)
    waited = policy.units_between(locked.paused_at, now)
    old_due = locked.due_at
    if waited:
        moved = policy.add_units(locked.due_at, waited)
        locked.due_at = moved.due_at
        locked.due_provisional = locked.due_provisional or moved.provisional
    locked.state = S.IN_PROGRESS
    locked.paused_at = None
    locked.save(update_fields=["state", "paused_at", "due_at", "due_provisional", "updated_at"])
    detail = ""
    if locked.due_at != old_due:
        detail = ngettext(
            "We waited %(days)d day for your reply; the answer is now due on %(due)s.",
            "We waited %(days)d days for your reply; the answer is now due on %(due)s.",
            waited,
        ) % {"days": waited, "due": local_date(locked.due_at)}
    _event(
        locked,
        E.RESUMED,
        actor=actor,
        detail=detail,
        due_at=locked.due_at.isoformat(),
        waited=waited,
    )
    if locked.due_at != old_due:
        # A deadline the requester was told never moves later without telling them.
        enqueue(
            [
                draft_to_requester(
                    locked,
                    f"resumed:{timezone.localdate(locked.due_at).isoformat()}",
                    lambda: (
                        _("New answer date for your request %(ref)s") % {"ref": locked.reference}
                    ),
                    lambda: (
                        ngettext(
                            "We are working on your request again. The time limit was paused "
                            "for the %(days)d day we waited for you, so we will now answer by "
                            "%(due)s.",
                            "We are working on your request again. The time limit was paused "
                            "for the %(days)d days we waited for you, so we will now answer by "
                            "%(due)s.",
                            waited,
                        )
                        % {"days": waited, "due": local_date(locked.due_at)}
                    ),
                )
            ]
        )


def effective_due_at(req, policy, now):
    """The deadline as it stands now: while paused, the days waited so far are added."""
    if req.paused_at is None:
        return req.due_at
    return policy.add_units(req.due_at, policy.units_between(req.paused_at, now)).due_at


def resume(req, actor):
    """Staff resume work without a reply (e.g. the answer came by phone)."""
    with transaction.atomic():
        locked = _locked(req)
        _require(locked, [S.AWAITING_REQUESTER])
        _resume(locked, actor, timezone.now())
    return _refreshed(req)


def post_message(req, author, body, *, internal=False, files=()):
    """Add a message (with validated attachments) to the thread.

    A requester's reply to a request waiting for them restarts the clock. Staff messages that
    are not internal notes are sent to the requester.
    """
    body = (body or "").strip()
    if not body:
        raise TransitionError(_("The message is empty."))
    from_staff = author.is_staff and author.pk != req.requester_id
    if internal and not from_staff:
        raise TransitionError(_("Only staff can write internal notes."))
    stored = []
    try:
        with transaction.atomic():
            locked = _locked(req)
            _require(locked, OPEN_STATES)
            message = locked.messages.create(
                author=author, from_staff=from_staff, internal=internal, body=body
            )
            store_attachments(locked, message, files, written=stored)
            now = timezone.now()
            if not from_staff and locked.state == S.AWAITING_REQUESTER:
                _resume(locked, author, now)
            _event(
                locked,
                E.NOTE if internal else E.MESSAGE,
                actor=author,
                public=not internal,
                message=message.pk,
            )
            if from_staff and not internal:
                enqueue(
                    [
                        draft_to_requester(
                            locked,
                            f"message:{message.pk}",
                            lambda: (
                                _("New message about your request %(ref)s")
                                % {"ref": locked.reference}
                            ),
                            lambda: body,
                        )
                    ]
                )
    except Exception:
        _discard(stored)
        raise
    _refreshed(req)
    return message


def extend(req, actor, days, reason):
    """Extend the deadline once, with a reason the requester is told, before it has passed."""
    reason = (reason or "").strip()
    if not reason:
        raise TransitionError(_("An extension needs a reason for the requester."))
    if (
        isinstance(days, bool)
        or not isinstance(days, int)
        or not 1 <= days <= settings.SLA_MAX_EXTENSION_DAYS
    ):
        raise TransitionError(
            _("An extension must be between 1 and %(max)d days.")
            % {"max": settings.SLA_MAX_EXTENSION_DAYS}
        )
    with transaction.atomic():
        locked = _locked(req)
        _require(locked, OPEN_STATES)
        now = timezone.now()
        if locked.extended_at is not None:
            raise TransitionError(_("This request has already been extended once."))
        policy = current_policy(locked.kind)
        if effective_due_at(locked, policy, now) <= now:
            raise TransitionError(
                _(
                    "The deadline has passed: an extension must be announced to the requester "
                    "before the deadline."
                )
            )
        moved = policy.add_units(locked.due_at, days)
        previous = locked.due_at
        locked.due_at = moved.due_at
        locked.due_provisional = locked.due_provisional or moved.provisional
        locked.extended_at = now
        locked.extension_reason = reason
        locked.save(
            update_fields=[
                "due_at",
                "due_provisional",
                "extended_at",
                "extension_reason",
                "updated_at",
            ]
        )
        _event(
            locked,
            E.EXTENDED,
            actor=actor,
            detail=reason,
            previous_due_at=previous.isoformat(),
            due_at=locked.due_at.isoformat(),
        )
        enqueue(
            [
                draft_to_requester(
                    locked,
                    "extended",
                    lambda: (
                        _("More time needed for your request %(ref)s") % {"ref": locked.reference}
                    ),
                    lambda: (
                        _(
                            "We need more time to answer your request. We will now answer by "
                            "%(due)s (previously %(previous)s).\n\nReason: %(reason)s"
                        )
                        % {
                            "due": local_date(locked.due_at),
                            "previous": local_date(previous),
                            "reason": reason,
                        }
                    ),
                )
            ]
        )
    return _refreshed(req)


def _close(locked, state, now):
    # Closed while paused: the days spent waiting for the requester do not count against us.
    locked.answered_on_time = now <= effective_due_at(locked, current_policy(locked.kind), now)
    locked.state = state
    locked.closed_at = now
    locked.paused_at = None


def complete(req, actor, resolution, data=None):
    """Answer the request (in progress -> completed), carrying it out first.

    What the request asked for (an export, corrections, withdrawals, erasure, account deletion)
    is done by its kind's handler (``requests.fulfilment``) in the same transaction: if that
    fails, nothing is changed and the request stays in progress. The handler's report of what
    was done (and what is kept, and why) is added to the answer. ``data`` carries the handler's
    inputs from the admin form (e.g. the decision on each correction).
    """
    resolution = (resolution or "").strip()
    if not resolution:
        raise TransitionError(_("Write the answer the requester will receive."))
    with transaction.atomic():
        locked = _locked(req)
        _require(locked, [S.IN_PROGRESS])
        outcome = fulfilment.execute(locked, actor, data).strip()
        if outcome:
            resolution = f"{resolution}\n\n{outcome}"
            # Carrying it out may have erased the address the answer would go to.
            locked.requester.refresh_from_db(fields=["email", "preferred_language", "is_active"])
        _close(locked, S.COMPLETED, timezone.now())
        locked.resolution = resolution
        locked.save()
        _event(locked, E.COMPLETED, actor=actor, detail=resolution)
        enqueue(
            [
                draft_to_requester(
                    locked,
                    "completed",
                    lambda: _("Your request %(ref)s has been answered") % {"ref": locked.reference},
                    lambda: resolution,
                )
            ]
        )
    return _refreshed(req)


def remedy_text():
    """What a refused requester can do next (RGT-5)."""
    return _(
        "If you disagree with this decision you may complain to %(authority)s, contact our Data "
        "Protection Officer at %(dpo)s, or bring a claim before a competent people's court."
    ) % {
        "authority": settings.COMPLAINT_AUTHORITY
        or _("the Cyberspace Administration of China or another competent authority"),
        "dpo": settings.DPO_EMAIL,
    }


def refuse(req, actor, ground, reason):
    """Refuse on one of the eight grounds of the policy, with a written reason (RGT-5)."""
    reason = (reason or "").strip()
    if ground not in RefusalGround.values:
        raise TransitionError(_("Choose one of the grounds for refusal."))
    if not reason:
        raise TransitionError(_("A refusal needs a written reason for the requester."))
    with transaction.atomic():
        locked = _locked(req)
        _require(locked, OPEN_STATES)
        _close(locked, S.REFUSED, timezone.now())
        locked.refusal_ground = ground
        locked.refusal_reason = reason
        locked.save()
        _event(locked, E.REFUSED, actor=actor, detail=reason, ground=ground)
        enqueue(
            [
                draft_to_requester(
                    locked,
                    "refused",
                    lambda: _("Decision on your request %(ref)s") % {"ref": locked.reference},
                    lambda: (
                        _(
                            "We cannot fulfil your request.\n\nGround: %(ground)s\n\nReason: "
                            "%(reason)s\n\n%(remedy)s"
                        )
                        % {
                            "ground": RefusalGround(ground).label,
                            "reason": reason,
                            "remedy": remedy_text(),
                        }
                    ),
                )
            ]
        )
    return _refreshed(req)


def withdraw(req, actor, detail=""):
    """The requester withdraws their own request (also when their account is deleted)."""
    with transaction.atomic():
        locked = _locked(req)
        if actor.pk != locked.requester_id:
            raise TransitionError(_("Only the requester can withdraw a request."))
        _require(locked, OPEN_STATES)
        _close(locked, S.WITHDRAWN, timezone.now())
        locked.save()
        _event(locked, E.WITHDRAWN, actor=actor, detail=detail)
    return _refreshed(req)


REFUSAL_HELP = gettext_lazy(
    "Refusal is allowed only on one of the eight grounds of the privacy policy, and the requester "
    "receives the ground, your reason and how to complain or seek a remedy."
)
