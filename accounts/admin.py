"""Users in the admin: find by phone or e-mail; every change audited (AUD-1)."""

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.utils.translation import gettext_lazy as _

from .models import User


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
    list_display = ("__str__", "phone", "email", "username", "is_staff", "is_active", "date_joined")
    list_filter = ("is_staff", "is_active", "groups", "preferred_language")
    search_fields = ("=phone", "email", "username")
    ordering = ("-date_joined",)
    show_full_result_count = False
    readonly_fields = ("last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("phone", "password")}),
        (
            _("Profile"),
            {"fields": ("email", "username", "date_of_birth", "preferred_language")},
        ),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
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

    def has_delete_permission(self, request, obj=None):
        # Deleting an account goes through account deletion (RGT-3): the registry erases what it
        # declares and keeps the user row as a tombstone, so records kept by law stay valid. A
        # plain delete would cascade into them, or be refused, and leave files behind.
        return False

    def get_search_results(self, request, queryset, search_term):
        """Phone numbers are stored in E.164: accept the local form a person types (138...)."""
        from phonenumber_field.phonenumber import to_python

        number = to_python(search_term.strip()) if search_term else None
        if number is not None and number.is_valid():
            return queryset.filter(phone=number.as_e164), False
        return super().get_search_results(request, queryset, search_term)
