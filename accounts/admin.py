"""Users in the admin: find by phone or e-mail; every change audited (AUD-1)."""

from axes.admin import AccessAttemptAdmin
from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from lib.admin import CappedCountPaginator, may_unmask, person_url, swap_fields
from lib.masking import mask_email, mask_phone
from lib.phones import e164

from . import second_factor
from .models import User

# Second-factor devices are managed by their owners (enrolment, new backup codes) and reset by
# `manage.py reset_staff_second_factor`, never edited in the admin: an administrator could
# otherwise plant a secret they know. A user's page says whether the factor is set up.
for _model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


class PortalUserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("phone", "email")


class PortalUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"
        field_classes = {}

    email = forms.EmailField(required=False)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    add_form = PortalUserCreationForm
    form = PortalUserChangeForm
    list_display = (
        "__str__",
        "phone",
        "email",
        "username",
        "is_staff",
        "is_active",
        "date_joined",
        "person_page",
    )
    list_filter = ("is_staff", "is_active", "groups", "preferred_language")
    search_fields = ("=phone", "email", "username")
    ordering = ("-date_joined",)
    show_full_result_count = False
    paginator = CappedCountPaginator  # 200,000 people: count at most 10,000
    readonly_fields = ("last_login", "date_joined", "second_factor_state")
    fieldsets = (
        (None, {"fields": ("phone", "password")}),
        (
            _("Profile"),
            {"fields": ("email", "username", "date_of_birth", "preferred_language")},
        ),
        (
            _("Permissions"),
            {
                "fields": (
                    "is_active",
                    "is_staff",
                    "second_factor_state",
                    "is_superuser",
                    "groups",
                    "user_permissions",
                )
            },
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("phone", "email", "usable_password", "password1", "password2"),
            },
        ),
    )

    # Phone and e-mail masked for staff without the unmasking permission (issue 12): support
    # agents and auditors recognise people by name and the last digits.
    MASKED = {"phone": "masked_phone", "email": "masked_email"}

    def get_list_display(self, request):
        fields = super().get_list_display(request)
        return fields if may_unmask(request) else swap_fields(fields, self.MASKED)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or may_unmask(request):
            return fieldsets
        return swap_fields(fieldsets, self.MASKED)

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        if obj is None or may_unmask(request):
            return fields
        return (*fields, *self.MASKED.values())

    @admin.display(description=_("mobile phone"))
    def masked_phone(self, obj):
        return mask_phone(obj.phone) if obj.phone else "—"

    @admin.display(description=_("e-mail address"))
    def masked_email(self, obj):
        return mask_email(obj.email) if obj.email else "—"

    @admin.display(description=_("Everything about them"))
    def person_page(self, obj):
        return format_html('<a href="{}">{}</a>', person_url(obj.pk), _("Person page"))

    @admin.display(description=_("Second factor"))
    def second_factor_state(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        if not obj.is_staff:
            return _("Not needed: the admin is for staff only.")
        return second_factor.describe(obj)

    def has_delete_permission(self, request, obj=None):
        # Deleting an account goes through account deletion (RGT-3): the registry erases what it
        # declares and keeps the user row as a tombstone, so records kept by law stay valid. A
        # plain delete would cascade into them, or be refused, and leave files behind.
        return False

    def get_search_results(self, request, queryset, search_term):
        """Phone numbers are stored in E.164: accept the local form a person types (138...).
        A blank or garbage term is not a number and falls through to the ordinary search."""
        phone = e164(search_term)
        if phone:
            return queryset.filter(phone=phone), False
        return super().get_search_results(request, queryset, search_term)


class PortalAccessAttemptAdmin(AccessAttemptAdmin):
    """django-axes' admin, whose clean-up action expects request attributes that only its
    sign-in signals set (a 500 otherwise)."""

    @admin.action(description=_("Clean up expired attempts"))
    def cleanup_expired_attempts(self, request, queryset):
        AxesProxyHandler.update_request(request)
        return super().cleanup_expired_attempts(request, queryset)


if admin.site.is_registered(AccessAttempt):
    admin.site.unregister(AccessAttempt)
admin.site.register(AccessAttempt, PortalAccessAttemptAdmin)
