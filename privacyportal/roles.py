"""The staff roles and what each may do (SEC-1, AUD-1): Django groups kept in sync with this
table after every `migrate` (and by `manage.py sync_roles`).

- **Data Protection Officers** (``DPO_GROUP_NAME``): everything.
- **Support agents**: requests and their messages; the users they concern and the working-day
  calendar, read-only. No sensitive data, no retention, no verification decisions.
- **Verification reviewers**: the review queue of verifications and guardians' consents, with
  the unmasked numbers and documents they decide on.
- **Auditors**: read-only everywhere, the audit log and the erasure ledger included; numbers
  stay masked. They download the compliance reports and CSV lists.

A staff member's own permissions and superuser status come on top; groups are only ever set to
exactly these permissions, so an edit in the admin does not survive the next `migrate`.
"""

from django.conf import settings
from django.db.models import Q

SUPPORT_AGENTS = "Support agents"
VERIFICATION_REVIEWERS = "Verification reviewers"
AUDITORS = "Auditors"

AGENT_PERMISSIONS = [
    "requests.view_datasubjectrequest",
    "requests.add_datasubjectrequest",
    "requests.change_datasubjectrequest",
    "requests.view_requestmessage",
    "requests.add_requestmessage",
    "requests.view_requestevent",
    "requests.view_attachment",
    "requests.view_calendaroverride",
    "accounts.view_user",
]
REVIEWER_PERMISSIONS = [
    "verification.view_verification",
    "verification.change_verification",
    "verification.approve_verification",
    "verification.view_verificationdocument",
    "verification.view_guardianconsent",
    "verification.change_guardianconsent",
    "verification.verify_guardianconsent",
    "verification.view_sensitive_data",
    "accounts.view_user",
]
#: Read-only, but never the unmasked numbers, and not the second factor's devices; they
#: download the compliance reports and CSV lists (AUD-1).
AUDITOR_EXTRA = ["lifecycle.view_processing_records", "requests.export_reports"]
AUDITOR_EXCLUDED_APPS = ["otp_totp", "otp_static", "sessions"]


def _by_names(permission_model, names):
    query = Q(pk__in=[])
    for name in names:
        app_label, codename = name.split(".", 1)
        query |= Q(content_type__app_label=app_label, codename=codename)
    return permission_model.objects.filter(query)


def role_permissions(permission_model) -> dict[str, object]:
    """Each role's permissions as a queryset of ``permission_model``."""
    auditor = permission_model.objects.filter(codename__startswith="view_").exclude(
        content_type__app_label__in=AUDITOR_EXCLUDED_APPS
    ).exclude(codename="view_sensitive_data") | _by_names(permission_model, AUDITOR_EXTRA)
    return {
        settings.DPO_GROUP_NAME: permission_model.objects.all(),
        SUPPORT_AGENTS: _by_names(permission_model, AGENT_PERMISSIONS),
        VERIFICATION_REVIEWERS: _by_names(permission_model, REVIEWER_PERMISSIONS),
        AUDITORS: auditor,
    }


def sync_roles(group_model=None, permission_model=None) -> dict[str, int]:
    """Create the groups and set each to exactly its role's permissions."""
    if group_model is None or permission_model is None:
        from django.contrib.auth.models import Group, Permission

        group_model, permission_model = Group, Permission
    counts = {}
    for name, permissions in role_permissions(permission_model).items():
        group, _created = group_model.objects.get_or_create(name=name)
        group.permissions.set(permissions)
        counts[name] = group.permissions.count()
    return counts


def sync_after_migrate(sender, apps=None, using="default", **kwargs):
    """post_migrate, sent once per app with models: at the last one, every app's permissions
    exist (Django creates them in a receiver connected before this one)."""
    from django.apps import apps as registry

    with_models = [config for config in registry.get_app_configs() if config.models_module]
    if with_models and sender.label == with_models[-1].label:
        sync_roles()
