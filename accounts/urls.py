from django.urls import path

from consent import views_consent

from . import verification_views, views

app_name = "accounts"

urlpatterns = [
    path("", views.center, name="center"),
    path("login/", views.phone_login, name="login"),
    path("login/password/", views.password_login, name="password_login"),
    path("signup/", views.signup, name="signup"),
    path("logout/", views.logout_view, name="logout"),
    path("profile/", views.profile, name="profile"),
    path("language/", views.set_language, name="set_language"),
    path("verification/", verification_views.status, name="verification"),
    path(
        "verification/individual/",
        verification_views.individual,
        name="verification_individual",
    ),
    path(
        "verification/enterprise/",
        verification_views.enterprise,
        name="verification_enterprise",
    ),
    path(
        "verification/documents/<int:pk>/",
        verification_views.document,
        name="verification_document",
    ),
    path("guardian/", verification_views.guardian, name="guardian"),
    path("consents/", views_consent.consents, name="consents"),
]
