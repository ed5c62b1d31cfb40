"""The account center's data pages (RGT-1, RGT-3) and the public certificate check.

Every query starts from ``request.user``: another person's export is a 404, never a 403.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import PhoneCode
from accounts.services import CodeError, send_code
from lib import ratelimits
from lib.network import client_limit_address
from lib.registry import registry

from . import deletion, exports
from .forms import CertificateForm, DeleteAccountForm
from .models import AccountDeletion, DataExport

MAX_PASSWORD_TRIES = 5
PASSWORD_TRIES = "lifecycle_delete_password_tries"  # noqa: S105 - a session key


@login_required
@never_cache
def data_home(request):
    """What we hold (the registry's categories), the user's downloads, and account deletion."""
    export_list = list(request.user.data_exports.order_by("-requested_at", "-id")[:10])
    building = any(e.is_unfinished for e in export_list)
    return render(
        request,
        "lifecycle/data.html",
        {
            "categories": registry.subject_categories(),
            "exports": export_list,
            "building": building,
            "settings_cooling_off": settings.ACCOUNT_DELETION_COOLING_OFF_DAYS,
        },
    )


@login_required
@require_POST
def export_create(request):
    try:
        export = exports.request_export(request.user)
    except exports.ExportError as exc:
        messages.error(request, str(exc))
    else:
        if export.status == DataExport.Status.PENDING and export.progress == 0:
            messages.success(
                request,
                _(
                    "We are preparing your data. This page shows the progress; we also e-mail you "
                    "when it is ready."
                ),
            )
    return redirect("lifecycle:data")


@login_required
def export_download(request, pk):
    export = get_object_or_404(DataExport, pk=pk, user=request.user, status=DataExport.Status.READY)
    try:
        return exports.download_response(export)
    except FileNotFoundError:
        raise Http404("The file is no longer held.") from None


@login_required
@require_http_methods(["GET", "POST"])
# Codes and passwords entered to confirm it is the account holder, counted per account.
@ratelimits.limit_posts(ratelimits.Limit(ratelimits.REAUTH_PER_USER, ratelimits.signed_in_user))
def delete_account(request):
    """Delete my account: re-authenticated, confirmed, then scheduled with a cooling-off
    period; the person is signed out and shown the date and the certificate code."""
    user = request.user
    if user.is_staff:
        messages.error(
            request,
            _("Staff accounts are closed by an administrator, not through account deletion."),
        )
        return redirect("lifecycle:data")
    tries = request.session.get(PASSWORD_TRIES, 0)
    form = DeleteAccountForm(
        request.POST or None, user=user, password_allowed=tries < MAX_PASSWORD_TRIES
    )
    if request.method == "POST" and "send" in request.POST:
        try:
            send_code(str(user.phone), PhoneCode.Purpose.REAUTH, client_limit_address(request))
        except CodeError as exc:
            messages.error(request, str(exc))
        else:
            messages.info(request, _("We have sent a code to your phone."))
        return render(
            request, "lifecycle/delete_account.html", {"form": DeleteAccountForm(user=user)}
        )
    if request.method == "POST":
        if form.is_valid():
            try:
                scheduled = deletion.schedule(user, channel=AccountDeletion.Channel.WEB)
            except deletion.DeletionError as exc:
                messages.error(request, str(exc))
                return redirect("lifecycle:data")
            logout(request)
            return render(request, "lifecycle/deletion_scheduled.html", {"deletion": scheduled})
        elif form.has_error("password") and form.password_allowed:
            request.session[PASSWORD_TRIES] = tries + 1
    return render(request, "lifecycle/delete_account.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def deletion_pending(request):
    """Shown after signing in while a deletion is scheduled: cancel it, or sign out."""
    scheduled = deletion.scheduled_for(request.user)
    if scheduled is None:
        request.session.pop(deletion.SESSION_FLAG, None)
        return redirect("accounts:center")
    if request.method == "POST":
        deletion.cancel(request.user)
        request.session.pop(deletion.SESSION_FLAG, None)
        messages.success(request, _("The deletion of your account is cancelled."))
        return redirect("accounts:center")
    return render(request, "lifecycle/deletion_pending.html", {"deletion": scheduled})


def certificate(request):
    """Anyone with a certificate code sees the dates and categories of the deletion."""
    form = CertificateForm(request.GET or None)
    found, valid, status = None, False, 200
    if form.is_bound and form.is_valid():
        found, valid = deletion.certificate_status(form.cleaned_data["code"])
        if found is None:
            status = 404
    categories = registry.categories
    context = {"form": form, "deletion": found, "valid": valid}
    if found is not None and found.status == AccountDeletion.Status.DONE:
        content = found.certificate
        context["erased"] = [
            categories[item["category"]].label
            if item["category"] in categories
            else item["category"]
            for item in content.get("erased", [])
        ]
        kept = {}
        for item in content.get("kept", []):
            code = item["category"]
            kept[code] = (
                max(kept.get(code) or "", item.get("until") or "")
                if code in kept
                else (item.get("until") or "")
            )
        context["kept"] = [
            {"category": categories[code].label if code in categories else code, "until": until}
            for code, until in kept.items()
        ]
        context["backups_expire_at"] = content.get("backups_expire_at")
        # The recipients told to erase (PIPL art. 47): companies, named in the privacy policy;
        # live statuses, not part of the signed certificate.
        from .models import RecipientErasure

        context["recipients"] = list(
            RecipientErasure.objects.filter(erasure__deletion=found)
            .select_related("recipient")
            .order_by("recipient__name", "id")
        )
    return render(request, "lifecycle/certificate.html", context, status=status)
