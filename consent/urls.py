"""Public consent and policy pages, mounted at ``/privacy/``.

Order matters: fixed routes (``accept/``, ``notice/...``, and any page added later such as the
recipients page) come first; the document routes at the end take any slug, and the admin
refuses document slugs that a fixed route already uses. Everything under ``/privacy/`` stays
reachable while a user owes a re-consent (consent.middleware).
"""

from django.urls import path

from .views import cookies, policy, recipients

app_name = "consent"

urlpatterns = [
    path("", policy.privacy_policy, name="privacy"),
    path("accept/", policy.reconsent, name="accept"),
    path("notice/<int:version_id>/seen/", policy.notice_seen, name="notice_seen"),
    path("recipients/", recipients.recipients, name="recipients"),
    path("recipients/v<int:number>/", recipients.recipients_version, name="recipients_version"),
    path("cookies/", cookies.cookie_settings, name="cookie_settings"),
    # --- add fixed routes above this line ---
    path("<slug:slug>/", policy.document_current, name="document"),
    path("<slug:slug>/versions/", policy.document_versions, name="versions"),
    path("<slug:slug>/v<int:number>/", policy.document_version, name="version"),
    path("<slug:slug>/diff/", policy.document_diff, name="diff"),
]
