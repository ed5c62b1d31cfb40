"""Admin registrations of the consent app, one module per area; each import registers its
ModelAdmins with the portal's admin site. Importing the modules here also connects the receivers
that keep published policy versions immutable (consent.policies)."""

from . import (
    admin_ledger,  # noqa: F401
    admin_policy,  # noqa: F401  policy documents, versions, campaigns (POL-1, SHR-2)
)
