"""Public policy pages, the re-consent interstitial and the notice (POL-1).

The policy pages need no login and follow the active language (the visitor's browser, or a
signed-in user's preferred language). Bad version numbers in a diff give a 400 page with the
form and its errors; unknown documents and versions give a 404.
"""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.urls import reverse
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from lib.http import is_safe_local_url

from .. import policies
from ..models import PolicyDocument, PolicyVersion, Recipient, SignificantCategory


def _safe_next(request, value, default="accounts:center"):
    """A local URL to go back to, never the interstitial itself or another host."""
    if is_safe_local_url(request, value) and not value.startswith(reverse("consent:accept")):
        return value
    return resolve_url(default)


def _localized_recipients(snapshot):
    chinese = (get_language() or "").startswith("zh")
    methods = dict(Recipient.Method.choices)
    rows = []
    for item in snapshot or []:

        def pick(field, item=item):
            return item.get(f"{field}_zh" if chinese else f"{field}_en") or item.get(f"{field}_en")

        rows.append(
            {
                "name": item.get("name", ""),
                "legal_entity": item.get("legal_entity", ""),
                "purpose": pick("purpose"),
                "scenario": pick("scenario"),
                "data_fields": pick("data_fields"),
                "method": methods.get(item.get("method", ""), item.get("method", "")),
                "country": item.get("country", ""),
                "abroad": item.get("abroad", False),
                "link": item.get("link", ""),
            }
        )
    return rows


def _render_version(request, document, version, current):
    if version is None:
        raise Http404(_("This document has no version in force yet."))
    context = {
        "document": document,
        "version": version,
        "current": current,
        "is_current": current is not None and current.pk == version.pk,
        "upcoming": current is None or version.number > current.number,
        "previous": policies.previous_version(version),
        "recipients": _localized_recipients(version.recipients_snapshot),
        "categories": _category_labels(version),
    }
    return render(request, "consent/policy.html", context)


def _category_labels(version):
    labels = dict(SignificantCategory.choices)
    return [labels.get(code, code) for code in version.significant_categories or []]


@require_GET
def privacy_policy(request):
    """``/privacy/``: the privacy policy in force, in the visitor's language."""
    document = (
        PolicyDocument.objects.filter(kind=PolicyDocument.Kind.PRIVACY_POLICY)
        .order_by("pk")
        .first()
    )
    if document is None:
        raise Http404(_("No privacy policy has been published yet."))
    current = policies.current_version(document)
    return _render_version(request, document, current, current)


@require_GET
def document_current(request, slug):
    document = get_object_or_404(PolicyDocument, slug=slug)
    current = policies.current_version(document)
    return _render_version(request, document, current, current)


@require_GET
def document_version(request, slug, number):
    document = get_object_or_404(PolicyDocument, slug=slug)
    version = get_object_or_404(
        PolicyVersion.objects.select_related("document"),
        document=document,
        number=number,
        published_at__isnull=False,
    )
    return _render_version(request, document, version, policies.current_version(document))


@require_GET
def document_versions(request, slug):
    """The history of a document: every published version, newest first."""
    document = get_object_or_404(PolicyDocument, slug=slug)
    versions = list(policies.published_versions(document))
    if not versions:
        raise Http404(_("This document has no published version yet."))
    current = policies.current_version(document)
    rows = [
        {"version": v, "previous": versions[i + 1] if i + 1 < len(versions) else None}
        for i, v in enumerate(versions)
    ]
    context = {
        "document": document,
        "rows": rows,
        "current": current,
        "form": DiffForm(numbers=[v.number for v in versions]),
    }
    return render(request, "consent/policy_versions.html", context)


class DiffForm(forms.Form):
    """Two published version numbers of one document (GET parameters ``from`` and ``to``)."""

    def __init__(self, data=None, *, numbers):
        super().__init__(data)
        choices = [(n, _("Version %(number)s") % {"number": n}) for n in sorted(numbers)]
        for name, label in (
            ("from", gettext_lazy("Older version")),
            ("to", gettext_lazy("Newer version")),
        ):
            self.fields[name] = forms.TypedChoiceField(
                label=label,
                choices=choices,
                coerce=int,
                error_messages={
                    "invalid_choice": gettext_lazy(
                        "There is no published version %(value)s of this document."
                    ),
                    "required": gettext_lazy("Choose a version."),
                },
            )
        if len(choices) >= 2 and data is None:
            self.initial = {"from": choices[-2][0], "to": choices[-1][0]}


@require_GET
def document_diff(request, slug):
    """``?from=1&to=2``: what changed between two published versions, in the active language."""
    document = get_object_or_404(PolicyDocument, slug=slug)
    versions = {v.number: v for v in policies.published_versions(document)}
    if not versions:
        raise Http404(_("This document has no published version yet."))
    form = DiffForm(request.GET, numbers=list(versions))
    context = {"document": document, "form": form}
    if not form.is_valid():
        return render(request, "consent/policy_diff.html", context, status=400)
    # The earlier version is always the "old" side, whichever way round they were chosen: a
    # reversed pair would mark the newer text as removed.
    first, second = sorted((form.cleaned_data["from"], form.cleaned_data["to"]))
    old, new = versions[first], versions[second]
    context.update({"old": old, "new": new, "diff": policies.diff(old, new, get_language())})
    return render(request, "consent/policy_diff.html", context)


# --- The re-consent interstitial and the notice ---------------------------------------------------


def _pending(request):
    pending = getattr(request, "policy_pending", None)
    if pending is None:
        pending = policies.pending_for(request.user)
    return pending


@login_required
@require_http_methods(["GET", "POST"])
def reconsent(request):
    """``/privacy/accept/``: a version that reduces the user's rights needs their explicit
    acceptance before they continue (POL-1). Declining keeps them here; they can sign out, or
    ask us to delete their account."""
    version = _pending(request).reconsent
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if version is None:
        return redirect(next_url)
    wording = policies.acceptance_wording(version)
    previous = policies.previous_version(version)
    context = {
        "version": version,
        "document": version.document,
        "previous": previous,
        "diff": policies.diff(previous, version, get_language()) if previous else None,
        "categories": _category_labels(version),
        "wording": wording,
        "next": next_url,
        "declined": False,
    }
    if request.method == "GET":
        return render(request, "consent/reconsent.html", context)

    if request.POST.get("version") != str(version.pk):
        messages.error(
            request,
            _("The policy changed while you were reading it. Please read the version below."),
        )
        return render(request, "consent/reconsent.html", context, status=409)
    decision = request.POST.get("decision")
    if decision == "accept":
        policies.accept(request.user, version, request=request, wording=wording)
        messages.success(request, _("Thank you. Your acceptance has been recorded."))
        return redirect(next_url)
    if decision == "decline":
        policies.decline(request.user, version, request=request, wording=wording)
        context["declined"] = True
        return render(request, "consent/reconsent.html", context)
    messages.error(request, _("Please choose whether you accept the new version."))
    return render(request, "consent/reconsent.html", context, status=400)


@login_required
@require_POST
def notice_seen(request, version_id):
    """Dismiss the notice of a significant version (POL-1)."""
    version = get_object_or_404(
        PolicyVersion, pk=version_id, published_at__isnull=False, significant=True
    )
    policies.mark_notice_seen(request.user, version)
    return redirect(
        _safe_next(request, request.POST.get("next"), default=settings.LOGIN_REDIRECT_URL)
    )
