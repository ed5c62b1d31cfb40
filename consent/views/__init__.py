"""The consent app's pages, one module per area:

- ``policy``: the public policy pages under ``/privacy/``, the re-consent interstitial and the
  notice (POL-1);
- ``recipients``: the public recipients page and the list disclosed with each privacy-policy
  version (SHR-1, STO-1);
- ``cookies``: the cookie banner's form and the cookie settings page (CON-4);
- ``consent``: the account center's consent page, ``/account/consents/`` (CON-1..3, ACC-3).
"""
