"""Real-name verification: submission, review, documents and their retention (VER-1..4, MIN-1).

Views and the admin call these functions; the Celery task and the management commands call the
same ones. Sensitive numbers live in encrypted fields (vault.fields) and documents in encrypted
files (vault.storage); this module never logs or returns them unmasked unless asked by code
that has checked the ``verification.view_sensitive_data`` permission.
"""

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from lib import hooks
from lib.files import serve_private_file
from lib.masking import mask_number, mask_resident_id
from lib.uploads import ALLOWED, CleanFile, check_pixel_budget, clean, inspect_upload

from .models import GuardianConsent, Verification, VerificationDocument


class VerificationError(Exception):
    """A user-facing reason why a verification step is not possible."""


# --- Minors (MIN-1) -----------------------------------------------------------------------------


def age_on(born: date | None, today: date | None = None) -> int | None:
    if born is None:
        return None
    today = today or timezone.localdate()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def is_child(user) -> bool:
    """Under 14: guardian consent needed before verification or API access."""
    age = age_on(user.date_of_birth)
    return age is not None and age < settings.CHILD_AGE


def is_minor(user) -> bool:
    """Under 18: the account center shows the guidance for minors."""
    age = age_on(user.date_of_birth)
    return age is not None and age < settings.ADULT_AGE


def has_verified_guardian(user) -> bool:
    return user.guardian_consents.filter(status=GuardianConsent.Status.VERIFIED).exists()


def is_restricted(user) -> bool:
    """A child's account stays restricted until a guardian's consent is verified by staff."""
    return is_child(user) and not has_verified_guardian(user)


def child_born_after(today: date | None = None) -> date:
    """Whoever was born after this date is under ``CHILD_AGE`` on ``today`` (the same answer as
    ``age_on``; someone born on 29 February has their birthday on 28 February in other years)."""
    today = today or timezone.localdate()
    year = today.year - settings.CHILD_AGE
    try:
        return today.replace(year=year)
    except ValueError:  # today is 29 February
        return today.replace(year=year, day=28)


def unrestricted(queryset, today: date | None = None):
    """The users of ``queryset`` who are not restricted children: the set-based counterpart of
    ``is_restricted`` for bulk work (one correlated EXISTS on verified guardians' consents).
    Registered with ``lib.hooks`` so that consent can exclude them without importing us."""
    verified = GuardianConsent.objects.filter(
        child_id=OuterRef("pk"), status=GuardianConsent.Status.VERIFIED
    )
    return queryset.filter(
        Q(date_of_birth__isnull=True)
        | Q(date_of_birth__lte=child_born_after(today))
        | Exists(verified)
    )


def can_use_api(user) -> bool:
    """API access needs an approved verification and no minor's restriction."""
    return (
        not is_restricted(user)
        and user.verifications.filter(status=Verification.Status.APPROVED).exists()
    )


# --- Masking (VER-4) ----------------------------------------------------------------------------

#: the one masking rule for numbers (lib/masking.py), under the name callers know
mask = mask_number

#: the numbers shown masked, each with the mask its kind of number needs
MASKED_FIELDS = (
    "document_number",
    "credit_code",
    "legal_rep_id_number",
    "bank_account",
    "student_id",
)


def masked(verification, field: str) -> str:
    """The masked form of one of ``MASKED_FIELDS`` of ``verification``: resident ID numbers
    show only their check character, other numbers at most their last four characters."""
    value = getattr(verification, field)
    if not value:
        return ""
    resident_id = field == "legal_rep_id_number" or (
        field == "document_number"
        and verification.document_type == Verification.DocumentType.RESIDENT_ID
    )
    return mask_resident_id(value) if resident_id else mask_number(value)


SENSITIVE_FIELDS = ("document_number", "credit_code", "legal_rep_id_number", "bank_account")


def can_see_sensitive(user) -> bool:
    return user.has_perm("verification.view_sensitive_data")


# --- Documents ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewDocument:
    kind: str
    file: CleanFile


def validate_documents(uploads: dict) -> list[NewDocument]:
    """Check {kind: uploaded file} by content and size; raise one ValidationError for all."""
    errors, inspected, docs = {}, {}, []
    total = 0
    for kind, upload in uploads.items():
        if upload is None:
            continue
        try:
            if upload.size > settings.VERIFICATION_DOCUMENT_MAX_BYTES:
                raise ValidationError(
                    _("The file is larger than %(limit)s.")
                    % {"limit": filesizeformat(settings.VERIFICATION_DOCUMENT_MAX_BYTES)},
                    code="too_large",
                )
            inspected[kind] = inspect_upload(upload)
        except ValidationError as exc:
            errors[kind] = exc.messages
    if errors:
        raise ValidationError(errors)
    # All images of the submission together, before any is decoded (lib.uploads).
    check_pixel_budget(inspected.values())
    for kind, item in inspected.items():
        try:
            cleaned = clean(item)
        except ValidationError as exc:
            errors[kind] = exc.messages
            continue
        total += len(cleaned.data)
        docs.append(NewDocument(kind, cleaned))
    if errors:
        raise ValidationError(errors)
    if total > settings.VERIFICATION_SUBMISSION_MAX_BYTES:
        raise ValidationError(
            _("The documents of one submission may total at most %(limit)s.")
            % {"limit": filesizeformat(settings.VERIFICATION_SUBMISSION_MAX_BYTES)},
            code="submission_total",
        )
    return docs


def _store_documents(verification, docs, written):
    for doc in docs:
        row = VerificationDocument(
            verification=verification,
            kind=doc.kind,
            content_type=doc.file.content_type,
            size=len(doc.file.data),
            sha256=hashlib.sha256(doc.file.data).hexdigest(),
        )
        row.file.save(doc.file.filename, ContentFile(doc.file.data), save=False)
        written.append(row)
        row.save()


def serve_document(document, viewer, *, inline=False):
    """Stream a document to someone already allowed to see it, and record that they did:
    who viewed which document of whom, when (VER-4). ``inline`` (images in the review page)
    changes only the Content-Disposition; the sandbox CSP, no-store and nosniff stay."""
    return serve_private_file(
        document,
        document.file,
        filename=f"{document.kind}-{document.pk}.{ALLOWED.get(document.content_type, 'bin')}",
        content_type=document.content_type,
        inline=inline,
    )


# --- Separate consent for sensitive personal information (CON-3) -------------------------------

#: the purpose in the consent ledger under which a verification's sensitive data is processed
SENSITIVE_PURPOSE = "sensitive-verification"


def sensitive_consent_withdrawn(user) -> bool:
    """Whether ``user`` has withdrawn the separate consent that verification needs (CON-3): a
    verification not yet decided then cannot be approved."""
    return hooks.consent_decision(user, SENSITIVE_PURPOSE) is False


# --- Submission ---------------------------------------------------------------------------------


def submission_blocker(user) -> str:
    """Why ``user`` cannot submit a verification now, or "" if they can. ``submit`` enforces it;
    the pages call it to explain before any upload."""
    if is_restricted(user):
        return _(
            "Accounts of children under 14 can be verified only after a guardian's consent "
            "has been recorded and checked."
        )
    statuses = set(
        user.verifications.filter(
            status__in=[Verification.Status.SUBMITTED, Verification.Status.APPROVED]
        ).values_list("status", flat=True)
    )
    if Verification.Status.APPROVED in statuses:
        return _("Your real-name verification is approved; there is nothing more to submit.")
    if Verification.Status.SUBMITTED in statuses:
        return _(
            "Your verification is waiting for review. You can submit again only if it is rejected."
        )
    return ""


def _check_can_submit(user):
    reason = submission_blocker(user)
    if reason:
        raise VerificationError(reason)


def _duplicate_filter(verification):
    q = Q()
    for field in ("document_number", "credit_code", "legal_rep_id_number"):
        value = getattr(verification, field)
        if value:
            q |= Q(**{field: value})
    return q


def find_by_number(number: str):
    """Verifications holding ``number`` as an identity document, legal representative's ID,
    credit code or bank account number: exact matches through the blind index, so no row is
    decrypted. For staff allowed to see numbers (the admin's number search checks it)."""
    number = "".join(str(number).split()).upper()
    if not number:
        return Verification.objects.none()
    q = Q(document_number=number) | Q(legal_rep_id_number=number) | Q(credit_code=number)
    if number.isdigit():  # a bank account is digits only; letters never match one
        q |= Q(bank_account=number)
    return Verification.objects.filter(q)


def find_duplicates(verification):
    """Other accounts' verifications with the same ID number or credit code, found through the
    blind index (no row is decrypted to compare)."""
    q = _duplicate_filter(verification)
    if not q:
        return Verification.objects.none()
    return Verification.objects.filter(q).exclude(user_id=verification.user_id)


def submit(user, *, kind, documents, sensitive_consent: dict | None = None, **fields):
    """Record a verification with its documents in one transaction; nothing is stored on error.

    ``sensitive_consent`` is the evidence of the user's separate consent to the processing of
    their sensitive personal information (CON-3): what they were shown and where from
    (``lib.hooks.consent_evidence``). Without it nothing is stored; with it the grant is
    recorded in the consent ledger first, in the same transaction, so the grant is on record
    exactly when the data is.
    """
    if not sensitive_consent or not sensitive_consent.get("wording"):
        raise VerificationError(
            _(
                "Real-name verification needs your separate consent to the processing of "
                "your sensitive personal information. Nothing has been stored."
            )
        )
    verification = Verification(
        user=user, kind=kind, status=Verification.Status.SUBMITTED, **fields
    )
    written = []
    try:
        with transaction.atomic():
            # Serialise one user's submissions: a double-submitted form cannot slip past the
            # check (the database's one-open-verification constraint backs it up).
            User.objects.select_for_update().filter(pk=user.pk).first()
            _check_can_submit(user)
            try:
                hooks.record_separate_consent(
                    user, SENSITIVE_PURPOSE, {**sensitive_consent, "verification_kind": kind}
                )
            except hooks.ConsentUnavailable as exc:
                raise VerificationError(
                    _("Your consent could not be recorded, so nothing has been stored: %(why)s")
                    % {"why": exc}
                ) from None
            verification.submitted_at = timezone.now()  # received after the consent was given
            verification.possible_duplicate = find_duplicates(verification).exists()
            verification.save()
            _store_documents(verification, documents, written)
            if verification.possible_duplicate:
                find_duplicates(verification).update(possible_duplicate=True)
    except IntegrityError:
        _discard_files(written)
        raise VerificationError(
            _("You already have a verification that is approved or waiting for review.")
        ) from None
    except Exception:
        _discard_files(written)
        raise
    return verification


def _discard_files(rows):
    for row in rows:
        row.file.storage.delete(row.file.name)


# --- Review -------------------------------------------------------------------------------------


def _locked(verification):
    return Verification.objects.select_for_update().get(pk=verification.pk)


def _decide(locked, status, actor, now):
    locked.status = status
    locked.decided_by = actor
    locked.decided_at = now
    locked.documents_purge_after = now + timedelta(
        days=settings.VERIFICATION_DOCUMENT_RETENTION_DAYS
    )


def needs_second_approval(verification) -> bool:
    return (
        verification.kind == Verification.Kind.ENTERPRISE
        and settings.VERIFICATION_FOUR_EYES_ENTERPRISE
    )


def approve(verification, actor):
    """Approve; enterprises need two different staff members when four-eyes is on."""
    with transaction.atomic():
        locked = _locked(verification)
        if locked.status != Verification.Status.SUBMITTED:
            raise VerificationError(_("Only a submitted verification can be approved."))
        if sensitive_consent_withdrawn(locked.user):
            # CON-3: processing that needs a separate consent stops when it is withdrawn.
            raise VerificationError(
                _(
                    "The user has withdrawn their separate consent to the processing of their "
                    "sensitive personal information, so this verification cannot be approved. "
                    "Reject it, giving that as the reason."
                )
            )
        now = timezone.now()
        if needs_second_approval(locked):
            if locked.first_approved_by_id is None:
                locked.first_approved_by = actor
                locked.first_approved_at = now
                locked.save(update_fields=["first_approved_by", "first_approved_at"])
                verification.refresh_from_db()
                return False  # waiting for the second approval
            if locked.first_approved_by_id == actor.pk:
                raise VerificationError(_("A different staff member must give the final approval."))
        _decide(locked, Verification.Status.APPROVED, actor, now)
        locked.save()
        _notify(locked)  # in the same transaction: a decision never goes untold
    verification.refresh_from_db()
    return True


def reject(verification, actor, reason):
    reason = (reason or "").strip()
    if not reason:
        raise VerificationError(_("A rejection needs a reason for the user."))
    with transaction.atomic():
        locked = _locked(verification)
        if locked.status != Verification.Status.SUBMITTED:
            raise VerificationError(_("Only a submitted verification can be rejected."))
        _decide(locked, Verification.Status.REJECTED, actor, timezone.now())
        locked.rejection_reason = reason
        locked.save()
        _notify(locked)
    verification.refresh_from_db()


def _notify(verification):
    from notifications.services import Draft, enqueue, render

    user = verification.user

    def subject():
        if verification.status == Verification.Status.APPROVED:
            return _("Your real-name verification is approved")
        return _("Your real-name verification was not approved")

    def body():
        if verification.status == Verification.Status.APPROVED:
            return _("Your verification has been approved.")
        return _(
            "We could not approve your verification.\n\nReason: %(reason)s\n\n"
            "You can correct the details and submit again in the account center."
        ) % {"reason": verification.rejection_reason}

    text_subject, text_body = render(user.preferred_language, subject, body)
    enqueue(
        [
            Draft(
                key=f"verification:{verification.pk}:{verification.status}",
                recipient_id=user.pk,
                to_email=user.email or "",
                subject=text_subject,
                body=text_body,
            )
        ]
    )


# --- Guardians (MIN-1) --------------------------------------------------------------------------


def decide_consent(consent, actor, status, note=""):
    """Verify or reject a pending guardian's consent, once, recording who checked it and when."""
    with transaction.atomic():
        locked = GuardianConsent.objects.select_for_update().get(pk=consent.pk)
        if locked.status != GuardianConsent.Status.PENDING:
            raise VerificationError(_("This consent has already been decided."))
        locked.status = status
        locked.verified_by = actor
        locked.verified_at = timezone.now()
        if note:
            locked.note = f"{locked.note}\n\n{note}".strip()
        locked.save()
    consent.refresh_from_db()
    return consent


# --- Retention (VER-4, RET-1) -------------------------------------------------------------------


def purge_expired_documents(now=None, batch_size=200) -> int:
    """Delete the files of decided verifications past their retention date; keep each
    document's hash and the decision. Idempotent: purged rows are never selected again."""
    now = now or timezone.now()
    purged = 0
    while True:
        with transaction.atomic():
            docs = list(
                VerificationDocument.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(
                    purged_at__isnull=True,
                    verification__documents_purge_after__lte=now,
                )
                .only("id", "file")[:batch_size]
            )
            if not docs:
                return purged
            for doc in docs:
                if doc.file.name:
                    doc.file.storage.delete(doc.file.name)
            VerificationDocument.objects.filter(pk__in=[d.pk for d in docs]).update(
                purged_at=now, file=""
            )
            purged += len(docs)
        if len(docs) < batch_size:
            return purged
