"""Admin helpers shared by every app."""


class EvidenceAdminMixin:
    """For records that are evidence (audit entries, the consent ledger, campaigns, the erasure
    ledger): staff view them in the admin and never add, change or delete them there."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
