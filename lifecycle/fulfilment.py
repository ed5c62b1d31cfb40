"""What each kind of request asks and what completing it does (RGT-1..4, MIN-2), registered
with ``requests.fulfilment`` when the app starts.

- access / copy: "Complete with export" builds the export and completes the request with it;
- correct / supplement: which fields and their new values (a new phone number needs the code
  sent to it); staff apply or refuse each field, through the same service as the profile page;
- withdraw consent: which purposes; completing records the withdrawals in the consent ledger;
- delete data / a minor's data: which categories; completing erases exactly those;
- delete account: completing schedules the deletion after the cooling-off period.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import PhoneCode, User
from accounts.services import CodeError, send_code, verify_code
from consent import ledger, policies
from consent.models import ConsentEvent, PolicyDocument, Purpose
from lib import corrections
from lib.network import client_limit_address
from lib.phones import e164
from lib.registry import BY_REQUEST, registry
from requests import fulfilment, workflow
from requests.models import RequestKind, RequestState

from . import deletion, erasure, exports, holds
from .models import AccountDeletion, DataExport, ErasureRecord

IN_PROGRESS = (RequestState.IN_PROGRESS,)


def _absolute(path: str) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def _date(value) -> str:
    return formats.date_format(timezone.localtime(value), "DATE_FORMAT")


def _in_language_of(req):
    return translation.override(req.requester.preferred_language or settings.LANGUAGE_CODE)


def _fail(exc) -> workflow.TransitionError:
    messages = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
    return workflow.TransitionError(" ".join(messages))


# --- Access and copy (RGT-1) ----------------------------------------------------------------------


class ExportAnswerForm(forms.Form):
    resolution = forms.CharField(
        label=gettext_lazy("Answer to the requester"),
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 5, "cols": 80}),
        help_text=gettext_lazy(
            "Sent when the export is ready, with the link to download it in the account center."
        ),
    )

    def __init__(self, *args, req=None, **kwargs):
        super().__init__(*args, **kwargs)
        if req is not None and not self.is_bound:
            with _in_language_of(req):
                self.initial["resolution"] = _(
                    "Here is the copy of the personal data we hold about you."
                )


def _start_export(req, actor, data):
    try:
        exports.request_export(
            req.requester, request=req, requested_by=actor, answer=data["resolution"]
        )
    except exports.ExportError as exc:
        raise _fail(exc) from exc


def _export_actions(req):
    if DataExport.objects.filter(request=req, status__in=["pending", "building"]).exists():
        return []
    return [
        fulfilment.Action(
            name="export",
            title=gettext_lazy("Complete with export"),
            help=gettext_lazy(
                "A worker prepares a download of every category of personal data held about the "
                "requester; the request is completed with it when it is ready."
            ),
            form=ExportAnswerForm,
            run=_start_export,
            done=gettext_lazy(
                "The export is being prepared; the request will be completed when it is ready."
            ),
            states=IN_PROGRESS,
        )
    ]


def _export_outcome(req, actor, data):
    export_id = data.get("export")
    if not export_id:
        return ""
    export = DataExport.objects.filter(pk=export_id, user=req.requester_id, status="ready").first()
    if export is None:
        raise workflow.TransitionError(_("The export is not ready."))
    with _in_language_of(req):
        return _("Your data is ready to download in the account center until %(date)s: %(url)s") % {
            "date": _date(export.expires_at),
            "url": _absolute(reverse("lifecycle:data")),
        }


def _export_status(req):
    export = DataExport.objects.filter(request=req).order_by("-requested_at").first()
    if export is None:
        return []
    return [(_("Export"), f"{export} · {export.get_status_display()} · {export.progress}%")]


# --- Correction and supplement (RGT-1) ------------------------------------------------------------


def _correctable():
    return registry.correctable(BY_REQUEST)


def _value_field(decl, f):
    model_field = decl.model_class._meta.get_field(f.name)
    label = _("New value: %(field)s") % {"field": decl.label_of(f)}
    if model_field.choices:
        return forms.ChoiceField(
            label=label, required=False, choices=[("", "---------"), *model_field.choices]
        )
    form_field = model_field.formfield(required=False, label=label)
    if isinstance(model_field, models.DateField):
        form_field.widget = forms.DateInput(attrs={"type": "date"})
    form_field.help_text = ""
    return form_field


def correction_fields():
    fields = {
        "fields": forms.MultipleChoiceField(
            label=gettext_lazy("Which data?"),
            required=False,
            widget=forms.CheckboxSelectMultiple,
            choices=lambda: [(f.name, d.label_of(f)) for d, f in _correctable()],
            help_text=gettext_lazy("Tick each item and give its new value below."),
        )
    }
    for decl, f in _correctable():
        fields[f"new_{f.name}"] = _value_field(decl, f)
    fields["phone_code"] = forms.CharField(
        label=gettext_lazy("Code sent to the new phone number"),
        required=False,
        max_length=6,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text=gettext_lazy(
            "A new phone number is confirmed with a code we send to it: press “Send code to "
            "the new number”."
        ),
    )
    return fields


def _stored(value):
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def clean_corrections(requester, data, *, staff=False):
    chosen = list(data.get("fields") or [])
    current = corrections.current_values(requester, [f.name for _d, f in _correctable()])
    changes, errors = {}, {}
    for decl, f in _correctable():
        key = f"new_{f.name}"
        raw = data.get(key)
        given = raw not in (None, "")
        if f.name in chosen and not given:
            errors[key] = _("Give the new value.")
        elif given and f.name not in chosen:
            errors[key] = _("Tick “%(field)s” above to change it, or leave this empty.") % {
                "field": decl.label_of(f)
            }
        elif given:
            try:
                value = corrections.check(requester, f.name, raw)
            except ValidationError as exc:
                errors[key] = (
                    [_("This phone number cannot be used.")] if f.name == "phone" else exc.messages
                )
                continue
            if value == current.get(f.name) or str(value) == str(current.get(f.name)):
                errors[key] = _("This is already the value we hold.")
                continue
            changes[f.name] = _stored(value)
    if not chosen and not errors:
        errors["fields"] = _("Choose at least one item to correct or supplement.")
    confirmed = {}
    if "phone" in changes and not errors:
        new_phone = changes["phone"]
        if staff:
            errors["new_phone"] = _(
                "A new phone number must be confirmed with a code sent to it: the person asks "
                "for this change in the account center."
            )
        elif User.objects.filter(phone=new_phone).exclude(pk=requester.pk).exists():
            errors["new_phone"] = _("This phone number cannot be used.")
        else:
            try:
                verify_code(new_phone, PhoneCode.Purpose.NEW_PHONE, data.get("phone_code", ""))
            except CodeError as exc:
                errors["phone_code"] = str(exc)
            else:
                confirmed["phone_confirmed_at"] = timezone.now().isoformat()
    if errors:
        raise ValidationError(errors)
    return {"changes": changes, **confirmed}


def send_new_phone_code(request, form) -> tuple[bool, str]:
    """The "Send code" button: a code to the new phone number typed in the form."""
    phone = e164(form.data.get("new_phone", ""))
    if phone is None:
        return False, _("Enter the new phone number first.")
    taken = User.objects.filter(phone=phone).exclude(pk=request.user.pk).exists()
    try:
        send_code(
            phone, PhoneCode.Purpose.NEW_PHONE, client_limit_address(request), deliver=not taken
        )
    except CodeError as exc:
        return False, str(exc)
    return True, _("If the number can be used, a code is on its way to it.")


def describe_corrections(req):
    changes = (req.details or {}).get("changes", {})
    if not changes:
        return []
    current = corrections.current_values(req.requester, list(changes))
    lines = []
    for name, new in changes.items():
        found = registry.correctable_field(name)
        label = found[0].label_of(found[1]) if found else name
        old = current.get(name)
        lines.append((label, f"{_stored(old) if old not in (None, '') else '—'} → {new}"))
    return lines


class CorrectionDecisionForm(forms.Form):
    """Apply or refuse each asked change, with the reasons for refusals and the answer."""

    APPLY, REFUSE = "apply", "refuse"

    def __init__(self, *args, req=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.req = req
        changes = req.details.get("changes", {}) if req else {}
        lines = dict(zip(changes, describe_corrections(req), strict=False)) if req else {}
        for name in changes:
            label, old_new = lines[name]
            self.fields[f"decide_{name}"] = forms.ChoiceField(
                label=f"{label}: {old_new}",
                choices=[(self.APPLY, _("Apply")), (self.REFUSE, _("Refuse"))],
                widget=forms.RadioSelect,
                initial=self.APPLY,
            )
        self.fields["refusal_reasons"] = forms.CharField(
            label=_("Why changes are refused (sent to the requester)"),
            required=False,
            max_length=5_000,
            widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        )
        self.fields["resolution"] = forms.CharField(
            label=_("Answer to the requester"),
            max_length=10_000,
            widget=forms.Textarea(attrs={"rows": 5, "cols": 80}),
        )

    def clean(self):
        cleaned = super().clean()
        refused = [k for k, v in cleaned.items() if k.startswith("decide_") and v == self.REFUSE]
        if refused and not (cleaned.get("refusal_reasons") or "").strip():
            self.add_error("refusal_reasons", _("Say why the refused changes are not made."))
        cleaned["decisions"] = {
            k.removeprefix("decide_"): v for k, v in cleaned.items() if k.startswith("decide_")
        }
        return cleaned


def _apply_corrections(req, actor, data):
    workflow.complete(req, actor, data["resolution"], data=data)


def _correction_actions(req):
    return [
        fulfilment.Action(
            name="corrections",
            title=gettext_lazy("Apply corrections and complete"),
            help=gettext_lazy(
                "Apply or refuse each change the requester asked for; applied changes go "
                "through the same checks as the profile page and are recorded in the audit log."
            ),
            form=CorrectionDecisionForm,
            run=_apply_corrections,
            done=gettext_lazy("The corrections are applied and the request is completed."),
            states=IN_PROGRESS,
        )
    ]


def execute_corrections(req, actor, data):
    changes = req.details.get("changes", {})
    decisions = data.get("decisions") or dict.fromkeys(changes, "apply")
    to_apply = {n: v for n, v in changes.items() if decisions.get(n) == "apply"}
    if "phone" in to_apply and not req.details.get("phone_confirmed_at"):
        raise workflow.TransitionError(_("The new phone number was not confirmed with a code."))
    try:
        done = corrections.apply(req.requester, to_apply)
    except ValidationError as exc:
        raise _fail(exc) from exc
    with _in_language_of(req):
        lines = []
        if done:
            lines.append(_("Corrected:"))
            lines += [f"- {c.label}: {_stored(c.new) if c.new else '—'}" for c in done]
        refused = [n for n in changes if n not in to_apply]
        if refused:
            lines.append(_("Not corrected:"))
            for name in refused:
                found = registry.correctable_field(name)
                lines.append(f"- {found[0].label_of(found[1]) if found else name}")
            reasons = (data.get("refusal_reasons") or "").strip()
            if reasons:
                lines.append(_("Why: %(reasons)s") % {"reasons": reasons})
        return "\n".join(lines)


# --- Consent withdrawal (RGT-4, CON-2) ------------------------------------------------------------


def _consent_purposes():
    return [
        (p.code, p.name)
        for p in Purpose.objects.filter(active=True, essential=False).order_by("code")
        if p.needs_consent
    ]


def withdrawal_fields():
    return {
        "purposes": forms.MultipleChoiceField(
            label=gettext_lazy("Which consents do you withdraw?"),
            required=False,
            widget=forms.CheckboxSelectMultiple,
            choices=_consent_purposes,
        )
    }


def clean_withdrawal(requester, data, *, staff=False):
    purposes = list(dict.fromkeys(data.get("purposes") or []))
    if not purposes:
        raise ValidationError({"purposes": _("Choose at least one purpose.")})
    return {"purposes": purposes}


def _purpose_names(codes):
    purposes = {p.code: p.name for p in Purpose.objects.filter(code__in=codes)}
    return [purposes.get(code) or code for code in codes]


def describe_withdrawal(req):
    if not req.details.get("purposes"):
        return []
    return [(_("Consents to withdraw"), ", ".join(_purpose_names(req.details.get("purposes", []))))]


def plan_withdrawal(req):
    return [
        _(
            "Completing records the withdrawal of each consent in the consent ledger under "
            "%(ref)s; it takes effect at once."
        )
        % {"ref": req.reference}
    ]


def _privacy_policy_version():
    document = PolicyDocument.objects.filter(kind=PolicyDocument.Kind.PRIVACY_POLICY).first()
    return policies.current_version(document) if document else None


def execute_withdrawal(req, actor, data):
    codes = list(dict.fromkeys(req.details.get("purposes", [])))
    purposes = {p.code: p for p in Purpose.objects.filter(code__in=codes)}
    missing = [c for c in codes if c not in purposes]
    if missing:
        raise workflow.TransitionError(
            _("These purposes no longer exist: %(codes)s") % {"codes": ", ".join(missing)}
        )
    withdrawn, not_given = [], []
    version = _privacy_policy_version()
    for code in codes:
        purpose = purposes[code]
        if not ledger.has_consent(code, user=req.requester):
            not_given.append(purpose)
            continue
        ledger.record(
            action=ConsentEvent.Action.WITHDRAW,
            channel=ConsentEvent.Channel.STAFF,
            user=req.requester,
            purpose=purpose,
            policy_version=version,
            request_reference=req.reference,
            recorded_by=actor,
            evidence={"request": req.reference, "wording": str(req.get_kind_display())},
        )
        withdrawn.append(purpose)
    with _in_language_of(req):
        lines = []
        if withdrawn:
            lines.append(
                _("Consent withdrawn, effective now: %(names)s")
                % {"names": ", ".join(p.name for p in withdrawn)}
            )
        if not_given:
            lines.append(
                _("You had not given consent to: %(names)s")
                % {"names": ", ".join(p.name for p in not_given)}
            )
        return "\n".join(lines)


# --- Deletion of data (RGT-2, MIN-2) --------------------------------------------------------------


def deletion_fields():
    return {
        "categories": forms.MultipleChoiceField(
            label=gettext_lazy("Which data should we delete?"),
            required=False,
            widget=forms.CheckboxSelectMultiple,
            choices=lambda: [(c.code, c.label) for c in registry.erasable_categories()],
            help_text=gettext_lazy(
                "Your requests, your consent history, sign-in logs and the audit trail are kept "
                "for the periods the law sets; the answer will say what is kept and why. To "
                "delete everything, delete your account instead."
            ),
        )
    }


def clean_deletion(requester, data, *, staff=False):
    categories = list(dict.fromkeys(data.get("categories") or []))
    if not categories:
        raise ValidationError({"categories": _("Choose at least one category.")})
    return {"categories": categories}


def _category_labels(codes):
    categories = registry.categories
    return [str(categories[c].label) if c in categories else c for c in codes]


def describe_deletion(req):
    if not req.details.get("categories"):
        return []
    return [(_("Data to delete"), ", ".join(_category_labels(req.details.get("categories", []))))]


def plan_deletion(req):
    return [
        _("Completing erases, at once and for good: %(categories)s.")
        % {"categories": ", ".join(_category_labels(req.details.get("categories", [])))},
        _("What the law makes us keep stays, and the answer tells the requester what and why."),
    ]


def held_but_not_deletable(user, asked) -> list:
    """Categories the person has data in that a deletion request cannot erase (the account
    needs them, or the law makes us keep them): the answer says so, with the reason."""
    held = []
    for category in registry.subject_categories():
        if category.erasable_on_request or category.code in asked:
            continue
        declarations = [d for d in registry.about_subject() if category.code in d.categories()]
        if any(registry.rows_of(d, user).exists() for d in declarations):
            held.append(category)
    return held


def report_text(report, also_kept=()) -> str:
    """The answer's account of an erasure: what was erased, what is kept, why and until when."""
    lines = []
    erased = report.erased_categories()
    if erased:
        lines.append(
            _("Erased: %(categories)s.") % {"categories": ", ".join(_category_labels(erased))}
        )
    else:
        lines.append(_("We held nothing in these categories."))
    kept = {}
    for item in report.kept:
        decl = registry.declaration(item["model"])
        keep = None
        if decl is not None:
            f = decl.field(item["what"])
            keep = (f.keep if f else None) or decl.keep
        basis = str(keep.basis) if keep else item["basis"]
        if item["what"] == "legal hold":
            basis = _("A legal hold: data that must not be erased until the hold ends.")
        kept.setdefault((item["category"], basis), set()).add(item["until"] or "")
    if kept:
        lines.append(_("Kept:"))
        for (code, basis), untils in sorted(kept.items()):
            until = max(untils)
            label = _category_labels([code])[0]
            if until:
                lines.append(
                    _("- %(category)s, until %(date)s: %(basis)s")
                    % {"category": label, "date": until, "basis": basis}
                )
            else:
                lines.append(
                    _("- %(category)s, for its retention period: %(basis)s")
                    % {"category": label, "basis": basis}
                )
    if also_kept:
        lines.append(
            _("Not deleted on request, because the account needs it or the law requires it:")
        )
        for category in also_kept:
            lines.append(
                _("- %(category)s (kept: %(retention)s): %(basis)s")
                % {
                    "category": category.label,
                    "basis": category.legal_basis,
                    "retention": category.retention,
                }
            )
    return "\n".join(lines)


def execute_deletion(req, actor, data):
    codes = req.details.get("categories", [])
    erasable = {c.code for c in registry.erasable_categories()}
    unknown = [c for c in codes if c not in erasable]
    if unknown or not codes:
        raise workflow.TransitionError(
            _("These categories cannot be deleted on request: %(codes)s")
            % {"codes": ", ".join(unknown) or "—"}
        )
    try:
        report = erasure.erase(
            req.requester,
            codes,
            reason=ErasureRecord.Reason.REQUEST,
            request_reference=req.reference,
            actor=actor,
        )
    except holds.DataHeld as exc:
        raise workflow.TransitionError(str(exc)) from exc
    also_kept = held_but_not_deletable(req.requester, codes)
    with _in_language_of(req):
        return report_text(report, also_kept)


# --- Account deletion (RGT-3) ---------------------------------------------------------------------


def plan_account_deletion(req):
    return [
        _(
            "Completing schedules the deletion of the account for %(date)s (the end of the "
            "cooling-off period, counted from when the request was received). Until then the "
            "requester can cancel by signing in."
        )
        % {"date": _date(_account_deletion_date(req))}
    ]


def _account_deletion_date(req):
    return max(timezone.now(), req.received_at + deletion.cooling_off())


def execute_account_deletion(req, actor, data):
    try:
        scheduled = deletion.schedule(
            req.requester,
            channel=AccountDeletion.Channel.REQUEST,
            request_reference=req.reference,
            actor=actor,
            execute_after=_account_deletion_date(req),
        )
    except deletion.DeletionError as exc:
        raise _fail(exc) from exc
    with _in_language_of(req):
        return _(
            "Your account will be deleted on %(date)s. Until then you can cancel by signing in. "
            "Afterwards, the code %(code)s lets anyone check the deletion certificate at %(url)s."
        ) % {
            "date": _date(scheduled.execute_after),
            "code": scheduled.code,
            "url": _absolute(reverse("lifecycle:certificate")),
        }


def register_handlers():
    fulfilment.register(
        fulfilment.Handler(
            kinds=(RequestKind.ACCESS, RequestKind.COPY),
            describe=_export_status,
            execute=_export_outcome,
            actions=_export_actions,
        )
    )
    fulfilment.register(
        fulfilment.Handler(
            kinds=(RequestKind.CORRECT, RequestKind.SUPPLEMENT),
            fields=correction_fields,
            clean=clean_corrections,
            describe=describe_corrections,
            execute=execute_corrections,
            actions=_correction_actions,
            replaces_complete=True,
            buttons={"send_phone_code": send_new_phone_code},
        )
    )
    fulfilment.register(
        fulfilment.Handler(
            kinds=(RequestKind.WITHDRAW_CONSENT,),
            fields=withdrawal_fields,
            clean=clean_withdrawal,
            describe=describe_withdrawal,
            plan=plan_withdrawal,
            execute=execute_withdrawal,
        )
    )
    fulfilment.register(
        fulfilment.Handler(
            kinds=(RequestKind.DELETE_DATA, RequestKind.MINOR_DELETION),
            fields=deletion_fields,
            clean=clean_deletion,
            describe=describe_deletion,
            plan=plan_deletion,
            execute=execute_deletion,
        )
    )
    fulfilment.register(
        fulfilment.Handler(
            kinds=(RequestKind.DELETE_ACCOUNT,),
            plan=plan_account_deletion,
            execute=execute_account_deletion,
        )
    )
