"""Account-center views for real-name verification and guardians (VER-1..4, MIN-1).

Thin: forms check the input, ``accounts.verification`` does the work. Every query starts from
``request.user``, so nobody reaches another account's verification or document (404).
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from lib import hooks

from . import services as service
from .forms import (
    EnterpriseVerificationForm,
    GuardianConsentForm,
    IndividualVerificationForm,
)
from .models import GuardianConsent, Verification, VerificationDocument

#: the sensitive numbers of each kind of verification, with their labels (shown masked)
MASKED_FIELDS = {
    Verification.Kind.INDIVIDUAL: [("document_number", gettext_lazy("Document number"))],
    Verification.Kind.ENTERPRISE: [
        ("credit_code", gettext_lazy("Unified social credit code")),
        ("legal_rep_id_number", gettext_lazy("Legal representative's ID number")),
        ("bank_account", gettext_lazy("Bank account number")),
    ],
}


blocked_reason = service.submission_blocker


def _verification_rows(user):
    verifications = user.verifications.prefetch_related("documents").order_by("-submitted_at")
    rows = []
    for item in verifications:
        rows.append(
            {
                "verification": item,
                "masked": [
                    (label, service.masked(item, name))
                    for name, label in MASKED_FIELDS[item.kind]
                    if getattr(item, name)
                ],
                "student_id": service.masked(item, "student_id"),
                "documents": list(item.documents.all()),
            }
        )
    return rows


@login_required
def status(request):
    """The user's verifications: status, reasons, masked numbers and the documents we hold."""
    user = request.user
    return render(
        request,
        "verification/verification_status.html",
        {
            "rows": _verification_rows(user),
            "blocked_reason": blocked_reason(user),
            "restricted": service.is_restricted(user),
            "retention_days": settings.VERIFICATION_DOCUMENT_RETENTION_DAYS,
            "consent_withdrawn": service.sensitive_consent_withdrawn(user),
        },
    )


def _submit_view(request, form_class, title):
    user = request.user
    reason = blocked_reason(user)
    context = {
        "title": title,
        "blocked_reason": reason,
        "restricted": service.is_restricted(user),
        "retention_days": settings.VERIFICATION_DOCUMENT_RETENTION_DAYS,
    }
    if reason:
        if request.method == "POST":
            messages.error(request, reason)
        return render(request, "verification/verification_form.html", context)

    form = form_class(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        # The separate consent (CON-3) is recorded with the exact text of its box, in the same
        # transaction as the submission: both or neither.
        evidence = hooks.consent_evidence(request, form.consent_wording())
        try:
            service.submit(user, sensitive_consent=evidence, **form.submission())
        except service.VerificationError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                _("Thank you. Your verification has been submitted; we will tell you the result."),
            )
            return redirect("verification:status")
    context["form"] = form
    return render(request, "verification/verification_form.html", context)


@login_required
def individual(request):
    return _submit_view(request, IndividualVerificationForm, _("Verify your identity"))


@login_required
def enterprise(request):
    return _submit_view(request, EnterpriseVerificationForm, _("Verify your enterprise"))


@login_required
def document(request, pk):
    """The owner downloads one of their documents while the platform still holds it."""
    doc = get_object_or_404(
        VerificationDocument.objects.select_related("verification"),
        pk=pk,
        verification__user=request.user,
        purged_at__isnull=True,
    )
    if not doc.file.name or not doc.file.storage.exists(doc.file.name):
        raise Http404
    return service.serve_document(doc, request.user)


@login_required
def guardian(request):
    """A child under 14 (or their guardian, on the child's device) records the guardian's
    details; staff verify them before the account's restriction is lifted (MIN-1)."""
    user = request.user
    consents = list(user.guardian_consents.order_by("-recorded_at"))
    open_consent = next(
        (
            c
            for c in consents
            if c.status in (GuardianConsent.Status.PENDING, GuardianConsent.Status.VERIFIED)
        ),
        None,
    )
    needed = service.is_child(user)
    can_record = needed and open_consent is None
    form = None
    if can_record:
        form = GuardianConsentForm(request.POST or None, child=user)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            GuardianConsent.objects.create(
                child=user,
                guardian_name=data["guardian_name"],
                guardian_phone=data["guardian_phone"],
                relationship=data["relationship"],
            )
            messages.success(
                request,
                _(
                    "Your guardian's details have been recorded. Our staff will check them and "
                    "then lift the restriction on your account."
                ),
            )
            return redirect("verification:guardian")
    elif request.method == "POST":
        messages.error(
            request,
            _("A guardian's consent is already on record for this account.")
            if needed
            else _("This account does not need a guardian's consent."),
        )
    return render(
        request,
        "verification/guardian.html",
        {
            "form": form,
            "consents": consents,
            "needed": needed,
            "restricted": service.is_restricted(user),
        },
    )
