from django.contrib.admin.apps import AdminConfig


class PortalAdminConfig(AdminConfig):
    """Installs the portal's admin site (the DPO cockpit) as the default admin site."""

    default_site = "privacyportal.admin_site.PortalAdminSite"
