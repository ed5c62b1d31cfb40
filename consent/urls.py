"""Public consent and policy pages, mounted at ``/privacy/``.

Order matters: fixed routes (``accept/``, ``notice/...``, and any page added later such as the
recipients page) come first; the document routes at the end take any slug, and the admin
refuses document slugs that a fixed route already uses. Everything under ``/privacy/`` stays
reachable while a user owes a re-consent (consent.middleware).
"""

from django.urls import path

from . import views_consent, views_cookies, views_policy

app_name = "consent"

urlpatterns = [
    path("", views_policy.privacy_policy, name="privacy"),
    path("accept/", views_policy.reconsent, name="accept"),
    path("notice/<int:version_id>/seen/", views_policy.notice_seen, name="notice_seen"),
    path("recipients/", views_consent.recipients, name="recipients"),
    path("recipients/v<int:number>/", views_consent.recipients_version, name="recipients_version"),
    path("cookies/", views_cookies.cookie_settings, name="cookie_settings"),
    # --- add fixed routes above this line ---
    path("<slug:slug>/", views_policy.document_current, name="document"),
    path("<slug:slug>/versions/", views_policy.document_versions, name="versions"),
    path("<slug:slug>/v<int:number>/", views_policy.document_version, name="version"),
    path("<slug:slug>/diff/", views_policy.document_diff, name="diff"),
]
