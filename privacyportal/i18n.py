"""Strings of Django and of third-party apps that the portal's own catalog translates
(locale/zh_Hans), because their catalogs lack Simplified Chinese or get it wrong for us.

Django appends ``_(":")`` to form labels unless the label already ends in one of ``_(":?.!")``:
in Chinese the suffix is the full-width colon, and a label ending in a full-width question mark
or colon gets none. django-axes (sign-in protection) and django-auditlog (the audit log's field
names and actions) ship no Chinese. Listing the strings here puts them into the catalog
(``makemessages``); nothing calls this module.
"""

from django.utils.translation import gettext_noop

STRINGS = [
    # Django forms: the label suffix and the endings that prevent it.
    gettext_noop(":"),
    gettext_noop(":?.!"),
    # django-axes
    gettext_noop("Access Attempt"),
    gettext_noop("Access lock out"),
    gettext_noop("Attempt Remaining"),
    gettext_noop("Attempt Time"),
    gettext_noop("Clean up expired attempts"),
    gettext_noop("Expires At"),
    gettext_noop("Failed Logins"),
    gettext_noop("Form Data"),
    gettext_noop("GET Data"),
    gettext_noop("HTTP Accept"),
    gettext_noop("IP Address"),
    gettext_noop("Locked Out"),
    gettext_noop("Logout Time"),
    gettext_noop("Meta Data"),
    gettext_noop("Not set"),
    gettext_noop("POST Data"),
    gettext_noop("Path"),
    gettext_noop("Session key hash (sha256)"),
    gettext_noop("The time when access attempt expires and is no longer valid."),
    gettext_noop("User Agent"),
    gettext_noop("Username"),
    gettext_noop("access attempt expiration"),
    gettext_noop("access attempt expirations"),
    gettext_noop("access attempt"),
    gettext_noop("access attempts"),
    gettext_noop("access failure"),
    gettext_noop("access failures"),
    gettext_noop("access log"),
    gettext_noop("access logs"),
    gettext_noop("Sign-in protection"),
    # django-auditlog
    gettext_noop("Changes"),
    gettext_noop("Correlation ID"),
    gettext_noop("access"),
    gettext_noop("action"),
    gettext_noop("actor"),
    gettext_noop("additional data"),
    gettext_noop("change message"),
    gettext_noop("content type"),
    gettext_noop("create"),
    gettext_noop("delete"),
    gettext_noop("update"),
    gettext_noop("log entries"),
    gettext_noop("log entry"),
    gettext_noop("object id"),
    gettext_noop("object pk"),
    gettext_noop("object representation"),
    gettext_noop("remote address"),
    gettext_noop("remote port"),
    gettext_noop("timestamp"),
]
