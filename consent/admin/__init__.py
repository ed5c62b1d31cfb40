"""The consent app's admin, one module per area. Django's admin autodiscovery imports this
package; importing the modules below registers their ModelAdmins with the portal's admin site.
(The receivers that keep published policy versions immutable are connected by
``ConsentConfig.ready``, through ``consent.policies``.)"""

from . import (  # noqa: F401
    campaigns,  # notification campaigns, announcing a change of controller (POL-1, SHR-2)
    ledger,  # the read-only ledger, the evidence page, the regulator's export (CON-1, AUD-1)
    policy,  # policy documents and versions, publishing (POL-1)
    purposes,  # purposes of processing (CON-1..3, ACC-3)
    recipients,  # third parties that receive data, how they erase (SHR-1, STO-1)
)
