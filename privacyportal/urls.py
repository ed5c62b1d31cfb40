from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from consent.views import consent as consent_views

from .views import favicon, healthz, user_agreement

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="accounts:center", permanent=False), name="home"),
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("account/requests/", include("requests.urls")),
    # Before accounts and consent: /account/data/, /account/delete/, /privacy/certificate/.
    path("", include("lifecycle.urls")),
    path("account/", include("verification.urls")),
    # The consents page of the account center belongs to the consent app.
    path("account/consents/", consent_views.consents, name="consents"),
    path("account/messages/", include("notifications.urls")),
    path("account/incidents/", include("incidents.urls")),  # breach notices (SEC-1)
    path("account/", include("accounts.urls")),
    # Before consent's document routes; two segments, so it never shadows a document's slug.
    path("privacy/current/user-agreement/", user_agreement, name="user_agreement"),
    path("privacy/", include("consent.urls")),
]
