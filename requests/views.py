"""The account center's request pages (RGT-1..5). Every query starts from ``request.user``: a
request that is not the user's own is a 404, never a 403."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Prefetch, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from lib import ratelimits
from lib.files import serve_private_file

from . import emails, fulfilment, references, workflow
from .attachments import attachments_total
from .forms import NewRequestForm, ReplyForm
from .models import Attachment, DataSubjectRequest, RequestKind

PAGE_SIZE = 20


class RequestNotFound(Http404):
    """No request of this user has the reference; ``mistyped`` when its check character shows
    a typo (the lookup was not even tried)."""

    def __init__(self, mistyped=False):
        super().__init__("No such request.")
        self.mistyped = mistyped


def get_request_for_user(user, reference):
    """The user's request by its reference, typed in any case and with or without hyphens;
    old sequential references still work."""
    try:
        candidates = references.lookup_values(reference)
    except references.InvalidReference as exc:
        raise RequestNotFound(mistyped=exc.code == "check") from None
    req = DataSubjectRequest.objects.filter(requester=user, reference__in=candidates).first()
    if req is None:
        raise RequestNotFound()
    return req


def reference_not_found_page(view):
    """Answer an unknown or mistyped reference with a 404 page that says which it is."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except RequestNotFound as exc:
            return render(
                request,
                "requests/not_found.html",
                {"reference": kwargs.get("reference", ""), "mistyped": exc.mistyped},
                status=404,
            )

    return wrapper


@login_required
def request_list(request):
    # "requester" must be loaded: the related manager sets it on every row from requester_id,
    # and a deferred requester_id would cost one query per row.
    qs = request.user.data_requests.order_by("-received_at", "-id").only(
        "reference", "kind", "state", "subject", "received_at", "due_at", "closed_at", "requester"
    )
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "requests/list.html", {"page": page})


@login_required
@require_http_methods(["GET", "POST"])
@ratelimits.limit_posts(
    ratelimits.Limit(ratelimits.REQUEST_FILING_PER_USER, ratelimits.signed_in_user)
)
def request_new(request):
    form = NewRequestForm(
        request.POST or None,
        request.FILES or None,
        requester=request.user,
        kind=request.GET.get("kind"),
    )
    # A kind's extra button (e.g. "Send code" to a new phone number) acts and shows the form
    # again with what was typed; it files nothing.
    for name, act in fulfilment.buttons(form.kind).items():
        if request.method == "POST" and name in request.POST:
            ok, text = act(request, form)
            (messages.info if ok else messages.error)(request, text)
            form = NewRequestForm(requester=request.user, kind=form.kind, initial=_typed(form))
            return render(request, "requests/new.html", _new_context(form))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        req = workflow.file_request(
            requester=request.user,
            kind=data["kind"],
            subject=data["subject"],
            description=data["description"],
            files=data["attachments"],
            details=form.details,
        )
        messages.success(
            request,
            _("Your request %(ref)s has been received. We will answer by %(due)s.")
            % {"ref": req.reference, "due": emails.local_date(req.due_at)},
        )
        return redirect("requests:detail", reference=req.reference)
    return render(request, "requests/new.html", _new_context(form))


def _typed(form):
    """What the person typed, to show the form again after an extra button."""
    typed = {}
    for name, field in form.fields.items():
        if name == "attachments":
            continue
        value = field.widget.value_from_datadict(form.data, form.files, form.add_prefix(name))
        if value not in (None, "", []):
            typed[name] = value
    return typed


def _new_context(form):
    return {
        "form": form,
        "kinds": RequestKind.choices,
        "chosen_kind": form.kind,
        "send_code": "send_phone_code" in fulfilment.buttons(form.kind),
    }


@login_required
@reference_not_found_page
@require_http_methods(["GET", "POST"])
def request_detail(request, reference):
    req = get_request_for_user(request.user, reference)
    if request.method == "GET" and reference != req.reference:
        return redirect("requests:detail", reference=req.reference)  # one address per request
    form = ReplyForm(
        request.POST or None, request.FILES or None, existing_total=attachments_total(req)
    )
    if request.method == "POST":
        if not req.is_open:
            messages.error(request, _("This request is closed; file a new request instead."))
            return redirect("requests:detail", reference=req.reference)
        if form.is_valid():
            try:
                workflow.post_message(
                    req,
                    request.user,
                    form.cleaned_data["body"],
                    files=form.cleaned_data["attachments"],
                )
            except workflow.TransitionError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Your message has been sent."))
                return redirect("requests:detail", reference=req.reference)
    public_messages = (
        req.messages.filter(internal=False)
        .select_related(None)
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("id")))
    )
    events = req.events.filter(public=True)
    request_files = req.attachments.filter(message__isnull=True).order_by("id")
    return render(
        request,
        "requests/detail.html",
        {
            "req": req,
            "form": form,
            "thread": public_messages,
            "events": events,
            "request_files": request_files,
            "remedy": emails.remedy_text() if req.state == "refused" else "",
            "asked": fulfilment.describe(req),
        },
    )


@login_required
@reference_not_found_page
@require_http_methods(["GET", "POST"])
def request_withdraw(request, reference):
    req = get_request_for_user(request.user, reference)
    if request.method == "POST":
        try:
            workflow.withdraw(req, request.user)
        except workflow.TransitionError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Your request has been withdrawn."))
        return redirect("requests:detail", reference=req.reference)
    if not req.is_open:
        messages.error(request, _("This request is already closed."))
        return redirect("requests:detail", reference=req.reference)
    return render(request, "requests/withdraw.html", {"req": req})


def serve_attachment(attachment):
    """A private file as a download that a browser will not render or cache; every download is
    an ACCESS entry in the audit log."""
    return serve_private_file(
        attachment,
        attachment.file,
        filename=attachment.filename,
        content_type=attachment.content_type,
    )


@login_required
@reference_not_found_page
def attachment_download(request, reference, pk):
    req = get_request_for_user(request.user, reference)
    visible = Q(message__isnull=True) | Q(message__internal=False)
    attachment = get_object_or_404(Attachment.objects.filter(visible), request=req, pk=pk)
    return serve_attachment(attachment)
