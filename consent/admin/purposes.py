"""Admin for the purposes of processing (CON-1..3, ACC-3): what users consent to, and what is
essential to the service."""

from django.contrib import admin

from ..models import Purpose


@admin.register(Purpose)
class PurposeAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name_en",
        "name_zh",
        "legal_basis",
        "essential",
        "separate_consent",
        "cookie_category",
        "active",
    )
    list_filter = ("essential", "legal_basis", "separate_consent", "active")
    search_fields = ("code", "name_en", "name_zh")
    ordering = ("essential", "code")

    def get_readonly_fields(self, request, obj=None):
        # The hash of every ledger event covers its purpose's code: renaming it would break the
        # chain, and the consent gates look purposes up by code.
        return ("code",) if obj is not None else ()
