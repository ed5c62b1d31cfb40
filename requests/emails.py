"""The messages of the requests app, one function per message (SLA-1, RGT-5, SEC-2, MIN-2).

Each returns the outbox draft (or one draft per recipient) in the recipient's language; the
workflow and the sweep queue them with ``notifications.services.enqueue``. Messages to the
requester end with a link to the request in the account center, messages to staff with a link to
its admin page. Outbox keys start with ``dsr:<request id>:`` and are unique per message, so a
message queued twice is sent once.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime
from types import SimpleNamespace

from django.conf import settings
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from notifications.services import Draft, render

from .models import RefusalGround

# --- Recipients and helpers ---------------------------------------------------------------------


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
    """Whether ``user`` (e.g. a request's assignee) can be written to."""
    return bool(user is not None and user.is_active and user.email)


def local_date(value):
    return formats.date_format(timezone.localtime(value), "DATE_FORMAT")


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


def _link_wording():
    return _("Follow your request in the account center: %(url)s")


def draft_to_requester(req, key, subject_fn, body_fn, sms_fn=None):
    """An outbox draft for the requester, in their language, with a link to the request. A
    requester without an e-mail address gets it by SMS: ``sms_fn`` (else the subject) is its
    text, the whole message is in the account center."""
    user = req.requester

    def body_with_link():
        url = settings.PORTAL_BASE_URL.rstrip("/") + reverse(
            "requests:detail", args=[req.reference]
        )
        link = _link_wording() % {"url": url}
        return f"{body_fn()}\n\n{link}"

    subject, body = render(user.preferred_language, subject_fn, body_with_link)
    sms = ""
    if sms_fn is not None:
        with translation.override(user.preferred_language or settings.LANGUAGE_CODE):
            sms = str(sms_fn())
    return Draft(
        key=f"dsr:{req.pk}:{key}",
        recipient_id=user.pk,
        to_email=user.email or "",
        subject=subject,
        body=body,
        sms=sms,
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


# --- To the requester ---------------------------------------------------------------------------


def _acknowledgement_wording():
    """(subject, body, SMS) of the acknowledgement in the active language: shared by
    ``acknowledgement`` and ``Acknowledgements``, so the two cannot word it differently."""
    return (
        _("We have received your request %(ref)s"),
        _("Thank you. We have received your request “%(subject)s” and will answer by %(due)s."),
        _("We have received your request %(ref)s and will answer by %(due)s."),
    )


def acknowledgement(req):
    """The request has been received; it will be answered by its due date (the sweep)."""

    def subject():
        return _acknowledgement_wording()[0] % {"ref": req.reference}

    def body():
        return _acknowledgement_wording()[1] % {
            "subject": req.subject,
            "due": local_date(req.due_at),
        }

    def sms():
        return _acknowledgement_wording()[2] % {
            "ref": req.reference,
            "due": local_date(req.due_at),
        }

    return draft_to_requester(req, "ack", subject, body, sms)


def question_to_requester(req, question, asked_at):
    """Staff need something from the requester; the clock is paused until they reply."""

    def subject():
        return _("We need more information about your request %(ref)s") % {"ref": req.reference}

    def body():
        return _(
            "To continue with your request we need the following from you:\n\n"
            "%(question)s\n\nThe time limit for our answer is paused until you reply."
        ) % {"question": question}

    return draft_to_requester(req, f"ask:{asked_at.timestamp():.0f}", subject, body)


def new_due_date(req, waited):
    """Work resumed after a pause of ``waited`` days, so the answer is due later."""

    def subject():
        return _("New answer date for your request %(ref)s") % {"ref": req.reference}

    def body():
        return ngettext(
            "We are working on your request again. The time limit was paused for the %(days)d "
            "day we waited for you, so we will now answer by %(due)s.",
            "We are working on your request again. The time limit was paused for the %(days)d "
            "days we waited for you, so we will now answer by %(due)s.",
            waited,
        ) % {"days": waited, "due": local_date(req.due_at)}

    key = f"resumed:{timezone.localdate(req.due_at).isoformat()}"
    return draft_to_requester(req, key, subject, body)


def message_from_staff(req, message):
    """A staff message in the request's thread (not an internal note), sent as written."""

    def subject():
        return _("New message about your request %(ref)s") % {"ref": req.reference}

    def body():
        return message.body

    return draft_to_requester(req, f"message:{message.pk}", subject, body)


def extension(req, previous_due_at):
    """The deadline has been extended, with the reason."""

    def subject():
        return _("More time needed for your request %(ref)s") % {"ref": req.reference}

    def body():
        return _(
            "We need more time to answer your request. We will now answer by %(due)s "
            "(previously %(previous)s).\n\nReason: %(reason)s"
        ) % {
            "due": local_date(req.due_at),
            "previous": local_date(previous_due_at),
            "reason": req.extension_reason,
        }

    return draft_to_requester(req, "extended", subject, body)


def completion(req):
    """The answer to the request (with what was carried out)."""

    def subject():
        return _("Your request %(ref)s has been answered") % {"ref": req.reference}

    def body():
        return req.resolution

    return draft_to_requester(req, "completed", subject, body)


def refusal(req):
    """The request is refused: the ground, the reason and where to complain (RGT-5)."""

    def subject():
        return _("Decision on your request %(ref)s") % {"ref": req.reference}

    def body():
        return _(
            "We cannot fulfil your request.\n\nGround: %(ground)s\n\nReason: %(reason)s\n\n"
            "%(remedy)s"
        ) % {
            "ground": RefusalGround(req.refusal_ground).label,
            "reason": req.refusal_reason,
            "remedy": remedy_text(),
        }

    return draft_to_requester(req, "refused", subject, body)


# --- To staff -----------------------------------------------------------------------------------


def urgent_request(req):
    """A request that needs the DPO's attention at once (SEC-2, MIN-2): one draft per member of
    the DPO group (or the DPO mailbox)."""

    def subject():
        return _("Urgent request %(ref)s: %(kind)s") % {
            "ref": req.reference,
            "kind": req.get_kind_display(),
        }

    def body():
        return _(
            "A request that needs the DPO's attention has been filed. It is due on %(due)s."
        ) % {"due": local_date(req.due_at)}

    return [draft_to_staff(req, user, "urgent", subject, body) for user in dpo_recipients()]


def _reminder_wording(days):
    """(subject, body) of a reminder in the active language (see ``_acknowledgement_wording``)."""
    return (
        _("Request %(ref)s is due on %(due)s"),
        ngettext(
            "Request %(ref)s (“%(subject)s”) must be answered within %(days)d day, by %(due)s.",
            "Request %(ref)s (“%(subject)s”) must be answered within %(days)d days, by %(due)s.",
            days,
        ),
    )


def reminders(req, days, owners):
    """The request is due within ``days`` days: one draft per owner (the assignee, or the DPO
    group when nobody reachable is assigned), once per deadline."""

    def subject():
        return _reminder_wording(days)[0] % {
            "ref": req.reference,
            "due": local_date(req.due_at),
        }

    def body():
        return _reminder_wording(days)[1] % {
            "ref": req.reference,
            "subject": req.subject,
            "days": days,
            "due": local_date(req.due_at),
        }

    key = f"remind{days}:{timezone.localdate(req.due_at).isoformat()}"
    return [draft_to_staff(req, user, key, subject, body) for user in owners]


def _escalation_wording(_days=None):
    """(subject, body) of an escalation in the active language (see
    ``_acknowledgement_wording``)."""
    return (
        _("Overdue: request %(ref)s"),
        _("Request %(ref)s (“%(subject)s”) was due on %(due)s and has not been answered."),
    )


def escalation(req, dpos):
    """The deadline has passed without an answer: one draft per member of the DPO group (or the
    DPO mailbox), once per deadline."""

    def subject():
        return _escalation_wording()[0] % {"ref": req.reference}

    def body():
        return _escalation_wording()[1] % {
            "ref": req.reference,
            "subject": req.subject,
            "due": local_date(req.due_at),
        }

    key = f"overdue:{timezone.localdate(req.due_at).isoformat()}"
    return [draft_to_staff(req, user, key, subject, body) for user in dpos]


# --- Many at once: the sweep --------------------------------------------------------------------

#: References that ``reverse`` puts into a URL unchanged (no quoting, no dot segments).
_PLAIN_REFERENCE = re.compile(r"[A-Za-z0-9_-]+")
_MARKER = "0REFERENCE0"


class _Batch:
    """What the per-message functions above look up for every message, looked up once per
    language (wording, link) and per language and day (the localised date), for a sweep that
    writes tens of thousands of messages: rendering each through ``translation.override`` and
    ``reverse`` cost ~0.5 ms a message (issue 14). The texts are the same: the wording comes from
    the same functions and is filled in with the same ``%`` formatting (a test compares them)."""

    def __init__(self):
        self._languages = {}
        self._dates = {}
        # timezone.localtime() looks the zone up on every call; it does not change mid-sweep.
        self._zone = timezone.get_current_timezone()

    def _language(self, language):
        language = language or settings.LANGUAGE_CODE
        found = self._languages.get(language)
        if found is None:
            with translation.override(language):
                found = self._languages[language] = self._wording()
        return found

    def _local_day(self, value) -> date:
        """The day of ``value`` in the portal's time zone; a ``date`` is that day already (a
        sweep may read it so, ``TruncDate``, which spares parsing a time and converting it)."""
        if isinstance(value, datetime):
            return value.astimezone(self._zone).date()
        return value

    def _date(self, language, value):
        language = language or settings.LANGUAGE_CODE
        day = self._local_day(value)
        key = (language, day)
        found = self._dates.get(key)
        if found is None:
            with translation.override(language):
                found = self._dates[key] = formats.date_format(day, "DATE_FORMAT")
        return found

    def _wording(self):  # pragma: no cover - each kind of message says its own
        raise NotImplementedError


class Acknowledgements(_Batch):
    """``acknowledgement(req)`` for many requests: ``draft(...)`` takes the few values it needs
    (as a sweep reads them, no model instances) and returns the same Draft."""

    def _wording(self):
        subject, body, sms = _acknowledgement_wording()
        url = reverse("requests:detail", args=[_MARKER])
        before, _marker, after = url.partition(_MARKER)
        base = settings.PORTAL_BASE_URL.rstrip("/")
        return subject, body, sms, _link_wording(), base + before, after

    def draft(self, pk, reference, subject, due_at, user_id, email, language) -> Draft:
        if reference is None or not _PLAIN_REFERENCE.fullmatch(reference):
            # Unusual references take the per-message path, which quotes them as ``reverse`` does.
            requester = SimpleNamespace(pk=user_id, email=email, preferred_language=language)
            req = SimpleNamespace(
                pk=pk, reference=reference, subject=subject, due_at=due_at, requester=requester
            )
            return acknowledgement(req)
        subject_text, body_text, sms_text, link, url_before, url_after = self._language(language)
        due = self._date(language, due_at)
        url = url_before + reference + url_after
        return Draft(
            key=f"dsr:{pk}:ack",
            recipient_id=user_id,
            to_email=email or "",
            subject=subject_text % {"ref": reference},
            body=f"{body_text % {'subject': subject, 'due': due}}\n\n{link % {'url': url}}",
            sms=sms_text % {"ref": reference, "due": due},
        )


class StaffMessages(_Batch):
    """``reminders`` (``wording=_reminder_wording``, with ``days``) or ``escalation``
    (``_escalation_wording``) for many requests and recipients."""

    def __init__(self, wording, days=None):
        super().__init__()
        self._wording_of = wording
        self.days = days

    def _wording(self):
        subject, body = self._wording_of(self.days)
        url = reverse("admin:requests_datasubjectrequest_change", args=[0])
        before, _marker, after = url.rpartition("/0/")
        base = settings.PORTAL_BASE_URL.rstrip("/")
        return subject, body, f"{base}{before}/", f"/{after}"

    def drafts(self, key, pk, reference, subject, due_at, owners) -> list[Draft]:
        """One draft per owner, each with ``pk``, ``email`` and ``preferred_language``; ``key``
        as in ``reminders`` and ``escalation`` (``remind3``, ``overdue``)."""
        local_day = self._local_day(due_at)
        day = local_day.isoformat()
        values = {"ref": reference, "subject": subject, "days": self.days}
        out = []
        for user in owners:
            language = user.preferred_language
            subject_text, body_text, url_before, url_after = self._language(language)
            values["due"] = self._date(language, local_day)
            out.append(
                Draft(
                    key=f"dsr:{pk}:{key}:{day}:{user.pk or 'dpo-mailbox'}",
                    recipient_id=user.pk,
                    to_email=user.email or "",
                    subject=subject_text % values,
                    body=f"{body_text % values}\n\n{url_before}{pk}{url_after}",
                )
            )
        return out
