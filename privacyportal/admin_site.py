"""The DPO cockpit: the admin site with the request counts that matter on its index (AUD-1)."""

from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _

from accounts import display, second_factor
from lib import admin_lookups, dates, ratelimits
from lib.admin import EvidenceAdminMixin  # noqa: F401 - re-exported for the apps' admins
from lib.http import safe_next


class StaffLoginForm(AdminAuthenticationForm):
    """Staff sign in with their e-mail address or phone number and password."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("E-mail or mobile phone")


def cockpit_counts(now=None):
    """Open, due in 3 days, overdue, closed this month and the on-time share.

    Two queries, each answered from an index: open requests through the partial index on open
    states, the month's closed ones through the closed_at index (never a full-table scan).
    """
    from requests.models import (
        ANSWERED_STATES,
        CLOCK_RUNNING_STATES,
        OPEN_STATES,
        DataSubjectRequest,
    )

    now = now or timezone.now()
    month_start = dates.month_start(now)
    running = Q(state__in=CLOCK_RUNNING_STATES)
    answered = Q(state__in=ANSWERED_STATES)
    counts = DataSubjectRequest.objects.filter(state__in=OPEN_STATES).aggregate(
        open=Count("id"),
        due_soon=Count(
            "id", filter=running & Q(due_at__gte=now, due_at__lt=now + timedelta(days=3))
        ),
        overdue=Count("id", filter=running & Q(due_at__lt=now)),
    )
    counts.update(
        DataSubjectRequest.objects.filter(closed_at__gte=month_start).aggregate(
            # closed_at, not id: the closed_at index covers it (read from the index alone).
            closed_month=Count("closed_at"),
            answered_month=Count("closed_at", filter=answered),
            on_time_month=Count("closed_at", filter=answered & Q(answered_on_time=True)),
        )
    )
    # The share of the *answered* requests (completed or refused) answered by their deadline, as
    # in the chart and the monthly report: a withdrawn request was not answered.
    answered_count = counts["answered_month"]
    counts["on_time_share"] = (
        round(100 * counts["on_time_month"] / answered_count) if answered_count else None
    )
    queue = reverse("admin:requests_datasubjectrequest_changelist")
    counts["links"] = {
        "open": f"{queue}?status=open",
        "due_soon": f"{queue}?status=open&deadline=due3",
        "overdue": f"{queue}?status=open&deadline=overdue",
        "closed_month": f"{queue}?status=closed&closed=month",
        "closed_year": f"{queue}?status=closed&closed=12m",
    }
    return counts


class PortalAdminSite(admin.AdminSite):
    site_header = _("Privacy compliance portal")
    site_title = _("Privacy portal admin")
    index_title = _("DPO dashboard")
    index_template = "admin/portal_index.html"
    login_form = StaffLoginForm
    # The queue's columns need the width (issue 13); the index and breadcrumbs lead everywhere.
    enable_nav_sidebar = False

    def register(self, model_or_iterable, admin_class=None, **options):
        """Every admin registered here, the portal's and third-party ones, accepts only the
        filters it offers from the URL (lib/admin_lookups.py)."""
        super().register(model_or_iterable, admin_class, **options)
        models = (
            model_or_iterable
            if isinstance(model_or_iterable, list | tuple)
            else [model_or_iterable]
        )
        for model in models:
            if model in self._registry:  # not a swapped-out model (auth.User)
                admin_lookups.harden(self._registry[model])

    def each_context(self, request):
        """Django builds the list of every app and model (~70 ``reverse()`` calls and a
        permission check per model) for the navigation sidebar on every admin page; this site
        has no sidebar, so ``available_apps`` is built only if a page uses it (issue 14). The
        index builds its own ``app_list``."""
        request._portal_apps_lazily = True
        try:
            return super().each_context(request)
        finally:
            request._portal_apps_lazily = False

    def get_app_list(self, request, app_label=None):
        if getattr(request, "_portal_apps_lazily", False):
            build = super().get_app_list
            return SimpleLazyObject(lambda: build(request, app_label))
        return super().get_app_list(request, app_label)

    def autocomplete_view(self, request):
        """People are named in the choices (accounts.display), as on the rendered pages."""
        with display.naming_people():
            return super().autocomplete_view(request)

    def has_permission(self, request):
        """Staff who have also passed the second factor (django-otp's ``OTPAdminSite`` rule):
        a password alone never opens the admin (VER-4)."""
        return super().has_permission(request) and second_factor.is_verified(request.user)

    def login(self, request, extra_context=None):
        """Password first, then the second factor: a staff member signed in with the password
        but not yet verified is sent on to enrol or enter a code."""
        if request.method == "GET" and second_factor.pending(request.user):
            return self._to_second_factor(request)
        if request.method == "POST":
            # The same limit as the account center's sign-in forms, per client network; wrong
            # passwords are also counted per person by django-axes.
            exceeded = ratelimits.count(request, ratelimits.Limit(ratelimits.SIGNIN_PER_ADDRESS))
            if exceeded is not None:
                return ratelimits.too_many_requests(request, exceeded)
        response = super().login(request, extra_context)
        if request.method == "POST" and second_factor.pending(request.user):
            return self._to_second_factor(request)
        return response

    def _to_second_factor(self, request):
        next_url = safe_next(request, reverse("admin:index", current_app=self.name))
        target = reverse("admin:second_factor", current_app=self.name)
        return HttpResponseRedirect(f"{target}?{urlencode({'next': next_url})}")

    def get_urls(self):
        from django.urls import path

        from accounts import second_factor_views as factor
        from lifecycle.admin import personal_data_map_view

        from .person import person_view
        from .reports_admin import report_urls

        def own(view):
            # Reached before the admin opens (not through admin_view): each view checks who
            # may see it itself.
            return lambda request: view(request, self)

        return [
            *report_urls(self),
            path(
                "personal-data-map/",
                self.admin_view(lambda request: personal_data_map_view(request, self)),
                name="personal_data_map",
            ),
            path(
                "people/<int:user_id>/",
                self.admin_view(lambda request, user_id: person_view(request, user_id, self)),
                name="person",
            ),
            path("second-factor/", own(factor.verify), name="second_factor"),
            path("second-factor/enrol/", own(factor.enrol), name="second_factor_enrol"),
            path("second-factor/sign-out/", own(factor.sign_out), name="second_factor_sign_out"),
            path(
                "second-factor/backup-codes/",
                self.admin_view(own(factor.backup_codes)),
                name="second_factor_backup_codes",
            ),
            *super().get_urls(),
        ]

    def index(self, request, extra_context=None):
        from .dashboard import dashboard

        extra_context = extra_context or {}
        extra_context.update(dashboard(request.user))
        extra_context["can_see_processing_records"] = request.user.has_perm(
            "lifecycle.view_processing_records"
        )
        return super().index(request, extra_context)
