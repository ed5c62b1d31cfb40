from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class PortalAdminConfig(AdminConfig):
    """Installs the portal's admin site (the DPO cockpit) as the default admin site."""

    default_site = "privacyportal.admin_site.PortalAdminSite"


class PortalConfig(AppConfig):
    """The project package as an app: commands that span every app (demo data, benchmark)."""

    name = "privacyportal"
    label = "portal"
    verbose_name = "Privacy portal"

    def ready(self):
        from django.core import checks
        from django.db.models.signals import post_migrate

        from .roles import sync_after_migrate

        # The staff roles follow privacyportal/roles.py after every migrate.
        post_migrate.connect(sync_after_migrate, dispatch_uid="portal-sync-roles")

        from lib.ratelimits import check_cache

        # Deployment only: `make run` and the tests count in a per-process cache on purpose.
        checks.register(check_cache, checks.Tags.security, deploy=True)
