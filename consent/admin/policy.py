"""Admin for policy documents and their versions (POL-1).

A version is written as a draft, then published from its page through a confirmation page that
says what will happen (a campaign to N users, re-consent required). Once published it is
read-only here (view only, no delete); ``consent.policies`` refuses edits through the ORM too.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import Max, Q
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from lib.admin import ObjectAction, ObjectActionsMixin

from .. import policies
from ..models import PolicyDocument, PolicyVersion, SignificantCategory

# --- Documents ------------------------------------------------------------------------------------


class PolicyDocumentForm(forms.ModelForm):
    class Meta:
        model = PolicyDocument
        fields = ["slug", "kind", "title_en", "title_zh"]

    def clean_slug(self):
        """A document's public address is /privacy/<slug>/: a slug that a fixed page already
        uses (accept, notice, recipients, ...) would hide the document."""
        slug = self.cleaned_data["slug"]
        try:
            match = resolve(reverse("consent:privacy") + f"{slug}/")
        except Resolver404:
            return slug
        if match.url_name != "document":
            raise forms.ValidationError(
                _("“%(slug)s” is the address of another page; choose another identifier."),
                params={"slug": slug},
            )
        return slug


class PolicyVersionInline(admin.TabularInline):
    model = PolicyVersion
    fields = ("number", "state", "effective_at", "significant", "reduces_rights", "published_at")
    readonly_fields = fields
    ordering = ("-number",)
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = _("versions")

    @admin.display(description=_("state"))
    def state(self, obj):
        return _("published") if obj.is_published else _("draft")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PolicyDocument)
class PolicyDocumentAdmin(admin.ModelAdmin):
    form = PolicyDocumentForm
    list_display = ("slug", "title_en", "title_zh", "kind", "latest_published")
    list_filter = ("kind",)
    search_fields = ("slug", "title_en", "title_zh")
    inlines = [PolicyVersionInline]
    change_form_template = "admin/consent/policydocument/change_form.html"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                latest=Max("versions__number", filter=Q(versions__published_at__isnull=False))
            )
        )

    @admin.display(description=_("latest published version"), ordering="latest")
    def latest_published(self, obj):
        return obj.latest or "-"

    def get_readonly_fields(self, request, obj=None):
        # The slug is in every published link and e-mail: fixed once a version is published.
        if obj is not None and obj.versions.filter(published_at__isnull=False).exists():
            return ("slug", "kind")
        return ()

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.versions.exists():
            return False
        return super().has_delete_permission(request, obj)


# --- Versions -------------------------------------------------------------------------------------


class PolicyVersionForm(forms.ModelForm):
    significant_categories = forms.MultipleChoiceField(
        label=_("categories of significant change"),
        choices=SignificantCategory.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = PolicyVersion
        fields = [
            "document",
            "number",
            "effective_at",
            "body_en",
            "body_zh",
            "summary_en",
            "summary_zh",
            "significant",
            "significant_categories",
            "reduces_rights",
        ]

    def clean(self):
        data = super().clean()
        significant = data.get("significant")
        categories = data.get("significant_categories") or []
        if data.get("reduces_rights") and not significant:
            self.add_error(
                "reduces_rights",
                _("A version that reduces users' rights is a significant change: tick both."),
            )
        if significant and not categories:
            self.add_error(
                "significant_categories", _("Name what kind of significant change this is.")
            )
        if not significant:
            data["significant_categories"] = []
        document, number = data.get("document"), data.get("number")
        if document is not None and number is not None:
            latest = policies.latest_published_number(document.pk)
            if number <= latest:
                self.add_error(
                    "number",
                    _("Version %(latest)s is already published: the new number must be higher.")
                    % {"latest": latest},
                )
        return data


class PublishedFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("draft", _("Draft")), ("published", _("Published"))]

    def queryset(self, request, queryset):
        if self.value() == "draft":
            return queryset.filter(published_at__isnull=True)
        if self.value() == "published":
            return queryset.filter(published_at__isnull=False)
        return queryset


def _categories_of(version):
    labels = dict(SignificantCategory.choices)
    return ", ".join(str(labels.get(c, c)) for c in version.significant_categories) or "-"


class PublishForm(forms.Form):
    """Publishing has nothing to fill in; it is refused while the version is not publishable."""

    def __init__(self, *args, version=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.version = version

    def clean(self):
        for problem in policies.check_publishable(self.version):
            self.add_error(None, problem)
        return super().clean()


def _publish(request, version, data):
    policies.publish(version, request.user)
    if version.significant:
        messages.info(
            request, _("The notification campaign has started; follow it in the campaign list.")
        )
    return _("%(version)s is published.") % {"version": version}


def _publish_page(request, version):
    previous = policies.previous_version(version)
    return {
        "version": version,
        "title": _("Publish %(version)s") % {"version": version},
        "problems": policies.check_publishable(version),
        "audience": get_user_model().objects.filter(is_active=True).count(),
        "categories": _categories_of(version),
        "recipients_count": (
            len(policies.recipients_at(version.effective_at))
            if version.document.kind == PolicyDocument.Kind.PRIVACY_POLICY
            else None
        ),
        "effective_in_past": version.effective_at <= timezone.now(),
        "previous": previous,
        "diff_en": policies.diff(previous, version, "en") if previous else None,
        "diff_zh": policies.diff(previous, version, "zh-hans") if previous else None,
    }


PUBLISH = ObjectAction(
    name="publish",
    title=_("Publish…"),
    run=_publish,
    form=PublishForm,
    form_kwargs=lambda request, version: {"version": version},
    allowed=lambda version: not version.is_published,
    refused=_("This version is already published."),
    # Publishing mails every user: a permission of its own, besides changing drafts.
    permission=("consent.change_policyversion", "consent.publish_policyversion"),
    errors=(policies.PolicyError,),
    url_name="consent_policyversion_publish",
    template="admin/consent/policyversion/publish.html",
    context=_publish_page,
)


@admin.register(PolicyVersion)
class PolicyVersionAdmin(ObjectActionsMixin, admin.ModelAdmin):
    object_actions = [PUBLISH]
    form = PolicyVersionForm
    list_display = (
        "__str__",
        "document",
        "number",
        "state",
        "effective_at",
        "significant",
        "reduces_rights",
        "published_at",
    )
    list_filter = (PublishedFilter, "document", "significant", "reduces_rights")
    list_select_related = ("document",)
    search_fields = ("document__slug", "summary_en", "summary_zh")
    ordering = ("document", "-number")
    change_form_template = "admin/consent/policyversion/change_form.html"
    published_fields = (
        "document",
        "number",
        "effective_at",
        "significant",
        "categories",
        "reduces_rights",
        "summary_en",
        "summary_zh",
        "body_en",
        "body_zh",
        "published_at",
        "published_by",
        "recipients_count",
        "public_link",
    )

    @admin.display(description=_("state"))
    def state(self, obj):
        return _("published") if obj.is_published else _("draft")

    @admin.display(description=_("categories of significant change"))
    def categories(self, obj):
        return _categories_of(obj)

    @admin.display(description=_("recipients disclosed"))
    def recipients_count(self, obj):
        return len(obj.recipients_snapshot or [])

    @admin.display(description=_("public page"))
    def public_link(self, obj):
        if not obj.is_published:
            return "-"
        url = reverse("consent:version", args=[obj.document.slug, obj.number])
        return format_html('<a href="{}">{}</a>', url, url)

    # -- published versions are read-only --

    def get_fields(self, request, obj=None):
        if obj is not None and obj.is_published:
            return self.published_fields
        return super().get_fields(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_published:
            return self.published_fields
        return ()

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_published:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # Only a draft can be deleted, one at a time (no bulk action that could reach a
        # published version).
        if obj is None or obj.is_published:
            return False
        return super().has_delete_permission(request, obj)

    def get_changeform_initial_data(self, request):
        """``?document=<id>`` starts the next version of a document from its latest text."""
        initial = super().get_changeform_initial_data(request)
        try:
            document_id = int(request.GET.get("document", ""))
        except ValueError:
            return initial
        latest = PolicyVersion.objects.filter(document_id=document_id).order_by("-number").first()
        if latest is not None:
            initial.update(
                {
                    "number": latest.number + 1,
                    "body_en": latest.body_en,
                    "body_zh": latest.body_zh,
                }
            )
        else:
            initial["number"] = 1
        return initial
