"""The request lifecycle: filing and every state transition (RGT-1..5, SLA-1, SEC-2, MIN-2).

submitted -> in progress <-> awaiting requester -> completed | refused | withdrawn

Each transition locks the row, checks the move against ``MOVES`` (the one table of allowed
moves, which the admin's buttons read too), makes the change and saves it through the ORM (so
that django-auditlog records it with the acting user), records an event (public ones form the
requester's timeline) and queues the messages it implies, written in ``requests/emails.py``,
through the outbox.
"""

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from notifications.services import enqueue

from . import emails, fulfilment, references
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

# Kinds that go straight to the DPO's attention when filed (SEC-2, MIN-2).
URGENT_KINDS = {RequestKind.SECURITY_REPORT, RequestKind.MINOR_DELETION}

# The moves, and the states each one is allowed from: the one table of allowed moves. Every
# transition below checks its move against it under the row lock; the admin's request page shows
# a button for each move it has a form for and that the request's state allows, in this order.
MOVES = {
    "start": (RequestState.SUBMITTED,),
    "resume": (RequestState.AWAITING_REQUESTER,),
    "complete": (RequestState.IN_PROGRESS,),
    "ask": CLOCK_RUNNING_STATES,
    "extend": OPEN_STATES,
    "refuse": OPEN_STATES,
    "assign": OPEN_STATES,
    "message": OPEN_STATES,
    "withdraw": OPEN_STATES,
}


class TransitionError(Exception):
    """The move is not allowed from the request's current state; the message says why."""


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
    req.state = RequestState.SUBMITTED
    stored = []
    try:
        with transaction.atomic():
            _insert_with_reference(req)
            _event(
                req,
                RequestEvent.Kind.SUBMITTED,
                actor=req.entered_by or req.requester,
                channel=req.channel,
            )
            store_attachments(req, None, files, written=stored)
            if req.kind in URGENT_KINDS:
                enqueue(emails.urgent_request(req))
    except Exception:
        _discard(stored)
        raise
    return req


# A clash of 40 random bits is rare; five in a row means something else is wrong.
REFERENCE_ATTEMPTS = 5


def _insert_with_reference(req):
    """Insert the new request under a fresh random reference (``requests/references.py``),
    drawing again, inside the caller's transaction, if the reference is already taken."""
    year = timezone.localtime(req.received_at).year
    for _attempt in range(REFERENCE_ATTEMPTS):
        req.reference = references.generate(year)
        try:
            # A savepoint: a clash rolls back this insert only, not the caller's transaction.
            with transaction.atomic():
                req.save(force_insert=True)
            return
        except IntegrityError:
            req.pk = None
            if not DataSubjectRequest.objects.filter(reference=req.reference).exists():
                raise  # another constraint, not a clash of references
    raise TransitionError(_("No free request reference could be drawn; please try again."))


# --- Transitions --------------------------------------------------------------------------------


def _locked(req):
    return (
        DataSubjectRequest.objects.select_for_update(of=("self",))
        .select_related("requester")
        .get(pk=req.pk)
    )


def _check_move(locked, move):
    """Refuse ``move`` unless ``MOVES`` allows it from the locked request's state."""
    if locked.state not in MOVES[move]:
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
        _check_move(locked, "assign")
        locked.assignee = assignee
        locked.save(update_fields=["assignee", "updated_at"])
        _event(
            locked,
            RequestEvent.Kind.ASSIGNED,
            actor=actor,
            public=False,
            assignee=assignee and assignee.pk,
        )
    return _refreshed(req)


def start(req, actor):
    """Identity checked, work begins (submitted -> in progress)."""
    with transaction.atomic():
        locked = _locked(req)
        _check_move(locked, "start")
        locked.state = RequestState.IN_PROGRESS
        if locked.assignee_id is None:
            locked.assignee = actor
        locked.save(update_fields=["state", "assignee", "updated_at"])
        _event(locked, RequestEvent.Kind.STARTED, actor=actor)
    return _refreshed(req)


def ask_requester(req, actor, question):
    """Ask the requester for something; the SLA clock pauses until they reply."""
    question = (question or "").strip()
    if not question:
        raise TransitionError(_("Write the question for the requester."))
    with transaction.atomic():
        locked = _locked(req)
        _check_move(locked, "ask")
        now = timezone.now()
        locked.state = RequestState.AWAITING_REQUESTER
        locked.paused_at = now
        locked.save(update_fields=["state", "paused_at", "updated_at"])
        locked.messages.create(author=actor, from_staff=True, body=question)
        _event(locked, RequestEvent.Kind.AWAITING_REQUESTER, actor=actor, detail=question)
        enqueue([emails.question_to_requester(locked, question, asked_at=now)])
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
    locked.state = RequestState.IN_PROGRESS
    locked.paused_at = None
    locked.save(update_fields=["state", "paused_at", "due_at", "due_provisional", "updated_at"])
    due_moved = locked.due_at != old_due
    detail = ""
    if due_moved:
        detail = ngettext(
            "We waited %(days)d day for your reply; the answer is now due on %(due)s.",
            "We waited %(days)d days for your reply; the answer is now due on %(due)s.",
            waited,
        ) % {"days": waited, "due": emails.local_date(locked.due_at)}
    _event(
        locked,
        RequestEvent.Kind.RESUMED,
        actor=actor,
        detail=detail,
        due_at=locked.due_at.isoformat(),
        waited=waited,
    )
    if due_moved:
        # A deadline the requester was told never moves later without telling them.
        enqueue([emails.new_due_date(locked, waited)])


def effective_due_at(req, policy, now):
    """The deadline as it stands now: while paused, the days waited so far are added."""
    if req.paused_at is None:
        return req.due_at
    return policy.add_units(req.due_at, policy.units_between(req.paused_at, now)).due_at


def resume(req, actor):
    """Staff resume work without a reply (e.g. the answer came by phone)."""
    with transaction.atomic():
        locked = _locked(req)
        _check_move(locked, "resume")
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
            _check_move(locked, "message")
            message = locked.messages.create(
                author=author, from_staff=from_staff, internal=internal, body=body
            )
            store_attachments(locked, message, files, written=stored)
            now = timezone.now()
            if not from_staff and locked.state == RequestState.AWAITING_REQUESTER:
                _resume(locked, author, now)
            _event(
                locked,
                RequestEvent.Kind.NOTE if internal else RequestEvent.Kind.MESSAGE,
                actor=author,
                public=not internal,
                message=message.pk,
            )
            if from_staff and not internal:
                enqueue([emails.message_from_staff(locked, message)])
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
        _check_move(locked, "extend")
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
            RequestEvent.Kind.EXTENDED,
            actor=actor,
            detail=reason,
            previous_due_at=previous.isoformat(),
            due_at=locked.due_at.isoformat(),
        )
        enqueue([emails.extension(locked, previous_due_at=previous)])
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
        _check_move(locked, "complete")
        outcome = fulfilment.execute(locked, actor, data).strip()
        if outcome:
            resolution = f"{resolution}\n\n{outcome}"
            # Carrying it out may have erased the address the answer would go to.
            locked.requester.refresh_from_db(fields=["email", "preferred_language", "is_active"])
        _close(locked, RequestState.COMPLETED, timezone.now())
        locked.resolution = resolution
        locked.save()
        _event(locked, RequestEvent.Kind.COMPLETED, actor=actor, detail=resolution)
        enqueue([emails.completion(locked)])
    return _refreshed(req)


def refuse(req, actor, ground, reason):
    """Refuse on one of the eight grounds of the policy, with a written reason (RGT-5)."""
    reason = (reason or "").strip()
    if ground not in RefusalGround.values:
        raise TransitionError(_("Choose one of the grounds for refusal."))
    if not reason:
        raise TransitionError(_("A refusal needs a written reason for the requester."))
    with transaction.atomic():
        locked = _locked(req)
        _check_move(locked, "refuse")
        _close(locked, RequestState.REFUSED, timezone.now())
        locked.refusal_ground = ground
        locked.refusal_reason = reason
        locked.save()
        _event(locked, RequestEvent.Kind.REFUSED, actor=actor, detail=reason, ground=ground)
        enqueue([emails.refusal(locked)])
    return _refreshed(req)


def withdraw(req, actor, detail=""):
    """The requester withdraws their own request (also when their account is deleted)."""
    with transaction.atomic():
        locked = _locked(req)
        if actor.pk != locked.requester_id:
            raise TransitionError(_("Only the requester can withdraw a request."))
        _check_move(locked, "withdraw")
        _close(locked, RequestState.WITHDRAWN, timezone.now())
        locked.save()
        _event(locked, RequestEvent.Kind.WITHDRAWN, actor=actor, detail=detail)
    return _refreshed(req)
