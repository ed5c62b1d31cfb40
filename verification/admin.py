"""The DPO's review of real-name verifications and guardians' consents (VER-1..4, MIN-1, AUD-1).

The verification queue lists submissions oldest first without any personal data; the review
page shows the submitted data beside the documents, with ID and account numbers masked unless
the staff member holds ``verification.view_sensitive_data`` (then the unmasking itself is audited).
Approve and reject are buttons leading to a confirmation form; they call the service functions
in ``accounts.verification``, like every other caller. Documents are reachable only through the
privileged document view here, which audits each view.
"""

import secrets
import time
from datetime import timedelta

from auditlog.signals import accessed
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import SEARCH_VAR, ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from audit.records import record_search
from lib.admin import CappedCountPaginator, ObjectAction, ObjectActionsMixin, person_link
from lib.forms import ConfirmForm

from . import services as service
from .models import GuardianConsent, Verification, VerificationDocument

DECIDE_TEMPLATE = "admin/confirm_action.html"
STYLES_TEMPLATE = "admin/verification/verification/change_list.html"
FIND_TEMPLATE = "admin/verification/verification/find_by_number.html"

#: The query parameter naming the results of a search by number: an opaque key into the
#: session, never the number (web addresses end up in access logs and browser histories).
FOUND_VAR = "found"
FOUND_SESSION_KEY = "verification_number_searches"
FOUND_TTL_SECONDS = 15 * 60
FOUND_MAX_KEPT = 10  # searches remembered per session
FOUND_MAX_ROWS = 1000


def _phone_e164(term):
    """The E.164 form of a phone number typed in the local form (138...), or None."""
    from phonenumber_field.phonenumber import to_python

    number = to_python(term) if term else None
    if number is not None and number.is_valid():
        return number.as_e164
    return None


def _badge(value, label):
    return format_html('<span class="ver-badge ver-badge-{}">{}</span>', value, label)


def _who_when(user, when):
    if user is None and when is None:
        return "—"
    stamp = timezone.localtime(when).strftime("%Y-%m-%d %H:%M") if when else ""
    return f"{user or '—'} · {stamp}" if stamp else str(user)


# --- Filters --------------------------------------------------------------------------------------


class VerificationStatusFilter(admin.SimpleListFilter):
    """The queue opens on submissions waiting for review; "All" is an explicit choice. A search
    (an ID number, a phone) looks at every status unless one is chosen."""

    title = _("status")
    parameter_name = "status"
    default = Verification.Status.SUBMITTED

    def __init__(self, request, params, model, model_admin):
        self.searching = bool(request.GET.get(SEARCH_VAR, "").strip()) or (FOUND_VAR in request.GET)
        super().__init__(request, params, model, model_admin)

    def lookups(self, request, model_admin):
        return [*Verification.Status.choices, ("all", _("All"))]

    def value(self):
        return super().value() or ("all" if self.searching else self.default)

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        if self.value() in Verification.Status.values:
            return queryset.filter(status=self.value())
        return queryset


class AgeFilter(admin.SimpleListFilter):
    """How long a submission has been waiting."""

    title = _("submitted")
    parameter_name = "age"
    DAYS = (1, 3, 7)

    def lookups(self, request, model_admin):
        return [
            (
                str(days),
                ngettext("More than %(n)d day ago", "More than %(n)d days ago", days) % {"n": days},
            )
            for days in self.DAYS
        ]

    def queryset(self, request, queryset):
        if self.value() in {str(d) for d in self.DAYS}:
            cutoff = timezone.now() - timedelta(days=int(self.value()))
            return queryset.filter(submitted_at__lt=cutoff)
        return queryset


class ConsentStatusFilter(VerificationStatusFilter):
    default = GuardianConsent.Status.PENDING

    def lookups(self, request, model_admin):
        return [*GuardianConsent.Status.choices, ("all", _("All"))]

    def queryset(self, request, queryset):
        if self.value() in GuardianConsent.Status.values:
            return queryset.filter(status=self.value())
        return queryset


# --- Forms ----------------------------------------------------------------------------------------


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (sent to the user)"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 5, "cols": 80}),
        help_text=_("Say what is wrong and what the user should correct before submitting again."),
    )


class ConsentNoteForm(ConfirmForm):
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text=_("How the consent was checked, e.g. a call to the guardian."),
    )


class ConsentRejectForm(forms.Form):
    note = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
    )


class NumberSearchForm(forms.Form):
    number = forms.CharField(
        label=_("Number"),
        max_length=60,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "autofocus": True, "size": 40}
        ),
        help_text=_(
            "A full resident ID, passport or other identity document number, unified social "
            "credit code or bank account number. Only exact matches are found."
        ),
    )

    def clean_number(self):
        compact = "".join(self.cleaned_data["number"].split()).replace("-", "").upper()
        if not (compact.isascii() and compact.isalnum() and 4 <= len(compact) <= 30):
            raise ValidationError(
                _(
                    "Enter the full number: 4 to 30 letters and digits (spaces and hyphens are "
                    "ignored)."
                )
            )
        return compact


# --- Searches by number: results behind an opaque key -------------------------------------------


def _remember_found(request, pks) -> str:
    """Keep the results of a search by number in the session for a short while; return the
    key that names them in the web address."""
    now = time.time()
    kept = {
        key: entry
        for key, entry in request.session.get(FOUND_SESSION_KEY, {}).items()
        if entry.get("until", 0) > now
    }
    key = secrets.token_urlsafe(16)
    kept[key] = {"pks": list(pks)[:FOUND_MAX_ROWS], "until": now + FOUND_TTL_SECONDS}
    newest = sorted(kept.items(), key=lambda item: item[1]["until"])[-FOUND_MAX_KEPT:]
    request.session[FOUND_SESSION_KEY] = dict(newest)
    return key


def _found_pks(request) -> list[int] | None:
    """The verifications a search by number found, for the key in the web address; None when
    there is no key, or it is unknown to this session or expired."""
    key = request.GET.get(FOUND_VAR)
    if key is None:
        return None
    entry = request.session.get(FOUND_SESSION_KEY, {}).get(key)
    if not isinstance(entry, dict) or entry.get("until", 0) <= time.time():
        return None
    return [int(pk) for pk in entry.get("pks", [])]


def _looks_like_a_number(term: str) -> bool:
    """A term that may be an identity, credit code or bank account number (phone numbers are
    recognised before this is asked): at least six digits among letters and digits only."""
    compact = "".join(term.split()).replace("-", "")
    return compact.isascii() and compact.isalnum() and sum(ch.isdigit() for ch in compact) >= 6


# --- Verification review --------------------------------------------------------------------------


class VerificationChangeList(ChangeList):
    """The queue never loads (and so never decrypts) the sensitive numbers. ``?found=<key>``
    lists the results of a search by number (see ``find_by_number_view``)."""

    def get_filters_params(self, params=None):
        lookup_params = super().get_filters_params(params)
        lookup_params.pop(FOUND_VAR, None)
        return lookup_params

    def get_queryset(self, request, exclude_parameters=None):
        queryset = super().get_queryset(request, exclude_parameters)
        if FOUND_VAR in request.GET:
            queryset = queryset.filter(pk__in=_found_pks(request) or [])
        return queryset.defer(*service.SENSITIVE_FIELDS)


def _approve(verification, user, data):
    if service.approve(verification, user):
        return _("The verification is approved and the user has been told.")
    return _("First approval recorded: waiting for a second approver.")


def _reject(verification, user, data):
    service.reject(verification, user, data["reason"])
    return _("The verification has been rejected and the user has been told the reason.")


def _still_submitted(verification) -> bool:
    return verification.status == Verification.Status.SUBMITTED


def _verification_summary(request, verification):
    return [
        (_("Verification"), f"{verification} · {verification.get_kind_display()}"),
        (_("User"), str(verification.user)),
        (_("Status"), verification.get_status_display()),
        (_("Submitted"), timezone.localtime(verification.submitted_at)),
    ]


def _four_eyes_notices(request, verification):
    if not service.needs_second_approval(verification):
        return []
    if verification.first_approved_by_id is None:
        return [
            _(
                "Enterprises need the approval of two different staff members: yours will be "
                "the first."
            )
        ]
    if verification.first_approved_by_id == request.user.pk:
        return [_("You gave the first approval: a different staff member must give the final one.")]
    return [
        _("First approval by %(who)s: yours will be the final approval.")
        % {"who": verification.first_approved_by}
    ]


# Deciding is a permission of its own, and whoever decides must see what they decide on: the
# unmasked numbers and the documents.
DECIDE_VERIFICATION = (
    "verification.change_verification",
    "verification.approve_verification",
    "verification.view_sensitive_data",
)
DECIDE_CONSENT = ("verification.change_guardianconsent", "verification.verify_guardianconsent")

VERIFICATION_ACTIONS = [
    ObjectAction(
        name="approve",
        title=_("Approve"),
        help=_("Confirm that the documents match the submitted data."),
        run=lambda request, verification, data: _approve(verification, request.user, data),
        allowed=_still_submitted,
        refused=_("This verification has already been decided."),
        errors=(service.VerificationError,),
        summary=_verification_summary,
        notices=_four_eyes_notices,
        permission=DECIDE_VERIFICATION,
    ),
    ObjectAction(
        name="reject",
        title=_("Reject"),
        help=_("The user is told the reason and can correct the details and submit again."),
        form=RejectForm,
        run=lambda request, verification, data: _reject(verification, request.user, data),
        allowed=_still_submitted,
        refused=_("This verification has already been decided."),
        errors=(service.VerificationError,),
        summary=_verification_summary,
        permission=DECIDE_VERIFICATION,
    ),
]


def _masked_display(field):
    label = Verification._meta.get_field(field).verbose_name

    @admin.display(description=label)
    def show(self, obj):
        value = getattr(obj, field)
        if not value:
            return "—"
        return value if getattr(obj, "_show_sensitive", False) else service.masked(obj, field)

    show.__name__ = f"{field}_shown"
    return show


@admin.register(Verification)
class VerificationAdmin(ObjectActionsMixin, admin.ModelAdmin):
    subject_field = "user_id"  # staff never act on their own (lib.admin)
    object_actions = VERIFICATION_ACTIONS
    object_action_url_name = "verification_verification_decide"
    # One person's records, linked from their person page (privacyportal/person.py).
    url_lookups = ("user__id__exact",)
    list_display = (
        "__str__",
        "user_label",
        "kind",
        "status_badge",
        "duplicate_flag",
        "age",
        "first_approval",
        "decision",
    )
    list_filter = (VerificationStatusFilter, "kind", "possible_duplicate", AgeFilter)
    list_select_related = ("user", "first_approved_by", "decided_by")
    search_fields = ("=user__phone", "user__email")
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # no per-filter counts over the whole table
    paginator = CappedCountPaginator
    list_per_page = 50
    ordering = ("submitted_at", "id")  # oldest first: served by verification_queue_idx
    change_form_template = "admin/verification/verification/change_form.html"

    document_number_shown = _masked_display("document_number")
    credit_code_shown = _masked_display("credit_code")
    legal_rep_id_number_shown = _masked_display("legal_rep_id_number")
    bank_account_shown = _masked_display("bank_account")
    student_id_shown = _masked_display("student_id")

    review_fields = (
        "rejection_reason",
        ("first_approved_by", "first_approved_at"),
        ("decided_by", "decided_at"),
        "documents_purge_after",
    )
    fieldsets_individual = (
        (
            None,
            {"fields": ("user", ("kind", "status"), "submitted_at", "possible_duplicate")},
        ),
        (
            _("Identity"),
            {
                "fields": (
                    "legal_name",
                    "document_type",
                    "document_number_shown",
                    "student_id_shown",
                    "institution",
                )
            },
        ),
        (_("Review"), {"fields": review_fields}),
    )
    fieldsets_enterprise = (
        fieldsets_individual[0],
        (
            _("Enterprise"),
            {"fields": ("company_name", "credit_code_shown")},
        ),
        (
            _("Legal representative"),
            {"fields": ("legal_rep_name", "legal_rep_id_number_shown")},
        ),
        (
            _("Bank account"),
            {"fields": ("bank_name", "bank_branch", "bank_account_shown")},
        ),
        (_("Review"), {"fields": review_fields}),
    )

    # -- permissions: users submit, staff review; nothing is added or deleted here --

    def lookup_allowed(self, lookup, value, request=None):
        # No filtering on encrypted numbers through the URL: it would let staff without the
        # sensitive-data permission test guesses (?bank_account=...) against masked values.
        if lookup.split("__", 1)[0] in service.MASKED_FIELDS:
            return False
        return super().lookup_allowed(lookup, value, request)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    # -- the queue --

    def get_changelist(self, request, **kwargs):
        return VerificationChangeList

    @admin.display(description=_("user"), ordering="user_id")
    def user_label(self, obj):
        return person_link(obj.user)

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        return _badge(obj.status, obj.get_status_display())

    @admin.display(description=_("duplicate?"), ordering="possible_duplicate")
    def duplicate_flag(self, obj):
        # Plain words: Django's boolean icons show a red cross for "no", which reads as a fault.
        if obj.possible_duplicate:
            return format_html('<span class="ver-duplicate">{}</span>', _("yes, check it"))
        return _("no")

    @admin.display(description=_("waiting"), ordering="submitted_at")
    def age(self, obj):
        days = (timezone.now() - obj.submitted_at).days
        if days < 1:
            return _("submitted today")
        return ngettext("submitted %(n)d day ago", "submitted %(n)d days ago", days) % {"n": days}

    @admin.display(description=_("first approval"), ordering="first_approved_at")
    def first_approval(self, obj):
        return _who_when(obj.first_approved_by, obj.first_approved_at)

    @admin.display(description=_("decided"), ordering="decided_at")
    def decision(self, obj):
        return _who_when(obj.decided_by, obj.decided_at)

    def get_search_results(self, request, queryset, search_term):
        """Phones in E.164, ``V-`` numbers and e-mail addresses. Identity, credit code and bank
        account numbers are never searched here: a search term travels in the web address (and
        so into access logs), and the search would confirm a guessed number to staff who see it
        masked. They are found through the number search, a form sent by POST."""
        term = search_term.strip()
        if not term:
            return super().get_search_results(request, queryset, search_term)
        if term.upper().startswith("V-") and (term[2:].isascii() and term[2:].isdigit()):
            return queryset.filter(pk=int(term[2:])), False
        phone = _phone_e164(term)
        if phone is not None:
            return queryset.filter(user__phone=phone), False
        if _looks_like_a_number(term):
            if service.can_see_sensitive(request.user):
                messages.info(
                    request,
                    _(
                        "The search box does not look for identity, credit code or bank account "
                        "numbers, so that they never appear in a web address: use “Find by "
                        "number”."
                    ),
                )
            else:
                messages.info(
                    request,
                    _(
                        "The search box does not look for identity, credit code or bank account "
                        "numbers. Finding a verification by its number needs the permission for "
                        "sensitive data."
                    ),
                )
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)

    def changelist_view(self, request, extra_context=None):
        context = {"can_search_numbers": self._may_search_numbers(request)}
        if FOUND_VAR in request.GET:
            if not context["can_search_numbers"]:
                raise PermissionDenied
            found = _found_pks(request)
            if found is None:
                messages.warning(request, _("Those search results have expired: search again."))
                return redirect("admin:verification_verification_find")
            context.update(found_search=True, found_count=len(found))
        return super().changelist_view(request, {**context, **(extra_context or {})})

    def _may_search_numbers(self, request) -> bool:
        return self.has_view_or_change_permission(request) and service.can_see_sensitive(
            request.user
        )

    def find_by_number_view(self, request):
        """Find verifications by an exact number (VER-4): only for staff who may see numbers,
        sent by POST so the number never enters a web address, answered with a redirect to
        the results under an opaque, short-lived key. Every search is in the audit log: who,
        when and how many verifications it found, never the number."""
        if not self._may_search_numbers(request):
            raise PermissionDenied
        form = NumberSearchForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            pks = list(
                service.find_by_number(form.cleaned_data["number"])
                .order_by("submitted_at", "id")
                .values_list("pk", flat=True)[:FOUND_MAX_ROWS]
            )
            record_search(request.user, Verification, hits=len(pks), what="number")
            if not pks:
                form = NumberSearchForm()  # the number is not echoed back into the page
                messages.info(request, _("No verification has that number."))
            else:
                key = _remember_found(request, pks)
                changelist = reverse("admin:verification_verification_changelist")
                return redirect(f"{changelist}?{FOUND_VAR}={key}")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Find verifications by number"),
            "form": form,
        }
        return TemplateResponse(request, FIND_TEMPLATE, context)

    # -- the review page: everything read-only, decisions through the action buttons --

    def get_fieldsets(self, request, obj=None):
        if obj is not None and obj.kind == Verification.Kind.ENTERPRISE:
            return self.fieldsets_enterprise
        return self.fieldsets_individual

    def get_readonly_fields(self, request, obj=None):
        fields = []
        for _name, options in self.get_fieldsets(request, obj):
            for entry in options["fields"]:
                fields.extend(entry if isinstance(entry, tuple) else [entry])
        return fields

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            obj._show_sensitive = service.can_see_sensitive(request.user)
        return obj

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is None or not self.has_view_or_change_permission(request, obj):
            # Django's own answer: "not found" or 403, before anything is shown or audited.
            return super().change_view(request, object_id, form_url, extra_context)
        change_url = reverse("admin:verification_verification_change", args=[obj.pk])
        if request.method == "POST":
            # Nothing on this page is edited; decisions go through the action buttons.
            return redirect(change_url)
        show = obj._show_sensitive
        if show and any(getattr(obj, f) for f in service.MASKED_FIELDS):
            # Seeing the numbers unmasked is itself an audited access (VER-4).
            accessed.send(sender=Verification, instance=obj)
        documents = list(obj.documents.all())
        for doc in documents:
            doc.is_image = doc.content_type.startswith("image/")
            doc.url = reverse("admin:verification_verification_document", args=[obj.pk, doc.pk])
        can_act = self.has_change_permission(request, obj)
        context = {
            "show_sensitive": show,
            "documents": documents,
            "duplicates": (
                list(service.find_duplicates(obj).select_related("user").order_by("submitted_at"))
                if obj.possible_duplicate
                else []
            ),
            "can_act": can_act,
            "four_eyes": service.needs_second_approval(obj),
            "title": _("Review verification"),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "show_delete": False,
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, context)

    def get_urls(self):
        return [
            path(
                "find/",
                self.admin_site.admin_view(self.find_by_number_view),
                name="verification_verification_find",
            ),
            path(
                "<int:pk>/documents/<int:doc_pk>/",
                self.admin_site.admin_view(self.document_view),
                name="verification_verification_document",
            ),
        ] + super().get_urls()

    def document_view(self, request, pk, doc_pk):
        """The only way to a document: privileged staff, audited, never cached (VER-4)."""
        if not service.can_see_sensitive(request.user):
            raise PermissionDenied
        doc = get_object_or_404(VerificationDocument, verification_id=pk, pk=doc_pk)
        if doc.purged_at is not None or not doc.file.name:
            raise Http404
        inline = request.GET.get("inline") == "1" and doc.content_type.startswith("image/")
        return service.serve_document(doc, request.user, inline=inline)  # a missing file is a 404


# --- Guardians' consents (MIN-1) ------------------------------------------------------------------


def _decide_consent(status, done):
    def run(request, consent, data):
        service.decide_consent(consent, request.user, status, data["note"])
        return done

    return run


def _consent_summary(request, consent):
    age = service.age_on(consent.child.date_of_birth)
    return [
        (_("Child"), f"{consent.child} · {age if age is not None else '—'}"),
        (_("Guardian"), f"{consent.guardian_name} ({consent.relationship})"),
        (_("Guardian's phone"), consent.guardian_phone),
        (_("Recorded"), timezone.localtime(consent.recorded_at)),
    ]


def _consent_pending(consent) -> bool:
    return consent.status == GuardianConsent.Status.PENDING


CONSENT_ACTIONS = [
    ObjectAction(
        name="verify",
        title=_("Verify"),
        help=_(
            "Confirm that the guardian's identity and consent have been checked. The child's "
            "account is no longer restricted."
        ),
        form=ConsentNoteForm,
        run=_decide_consent(
            GuardianConsent.Status.VERIFIED, _("The guardian's consent is verified.")
        ),
        allowed=_consent_pending,
        refused=_("This consent has already been decided."),
        errors=(service.VerificationError,),
        summary=_consent_summary,
        permission=DECIDE_CONSENT,
    ),
    ObjectAction(
        name="reject",
        title=_("Reject"),
        help=_("The consent could not be confirmed; the child's account stays restricted."),
        form=ConsentRejectForm,
        run=_decide_consent(
            GuardianConsent.Status.REJECTED, _("The guardian's consent has been rejected.")
        ),
        allowed=_consent_pending,
        refused=_("This consent has already been decided."),
        errors=(service.VerificationError,),
        summary=_consent_summary,
        permission=DECIDE_CONSENT,
    ),
]


@admin.register(GuardianConsent)
class GuardianConsentAdmin(ObjectActionsMixin, admin.ModelAdmin):
    subject_field = "child_id"  # staff never act on their own (lib.admin)
    recorder_field = "recorded_by_id"  # nor decide on a consent they entered themselves
    object_actions = CONSENT_ACTIONS
    object_action_url_name = "verification_guardianconsent_decide"
    # One person's records, linked from their person page (privacyportal/person.py).
    url_lookups = ("child__id__exact",)
    list_display = (
        "__str__",
        "child_label",
        "child_age",
        "guardian_name",
        "relationship",
        "status_badge",
        "recorded_at",
        "checked",
        "review_links",
    )
    list_filter = (ConsentStatusFilter, "recorded_at")
    list_select_related = ("child", "verified_by")
    search_fields = ("=child__phone",)
    show_full_result_count = False
    ordering = ("recorded_at", "id")  # oldest first
    raw_id_fields = ("child",)
    change_list_template = STYLES_TEMPLATE
    change_form_template = "admin/verification/verification/guardianconsent_change_form.html"
    fields = (
        "child",
        "guardian_name",
        "guardian_phone",
        "relationship",
        "status",
        ("recorded_at", "recorded_by"),
        ("verified_by", "verified_at"),
        "note",
    )

    def has_delete_permission(self, request, obj=None):
        # A record of consent: rejected, never deleted from the admin.
        return False

    def save_model(self, request, obj, form, change):
        if not change:
            obj.recorded_by = request.user
        super().save_model(request, obj, form, change)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ("status", "recorded_at", "recorded_by", "verified_by", "verified_at")
        if obj.status == GuardianConsent.Status.PENDING:
            return ("child", "status", "recorded_at", "recorded_by", "verified_by", "verified_at")
        return [f.name for f in GuardianConsent._meta.fields if f.name != "id"]

    @admin.display(description=_("child"), ordering="child_id")
    def child_label(self, obj):
        return person_link(obj.child)

    @admin.display(description=_("age"))
    def child_age(self, obj):
        age = service.age_on(obj.child.date_of_birth)
        return "—" if age is None else age

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        return _badge(obj.status, obj.get_status_display())

    @admin.display(description=_("checked"), ordering="verified_at")
    def checked(self, obj):
        return _who_when(obj.verified_by, obj.verified_at)

    @admin.display(description=_("review"))
    def review_links(self, obj):
        if obj.status != GuardianConsent.Status.PENDING:
            return ""
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>',
            reverse("admin:verification_guardianconsent_decide", args=[obj.pk, "verify"]),
            CONSENT_ACTIONS[0].title,
            reverse("admin:verification_guardianconsent_decide", args=[obj.pk, "reject"]),
            CONSENT_ACTIONS[1].title,
        )

    def get_search_results(self, request, queryset, search_term):
        phone = _phone_e164(search_term.strip())
        if phone is not None:
            return queryset.filter(child__phone=phone), False
        return super().get_search_results(request, queryset, search_term)
