"""The account center's verification pages, mounted under ``/account/`` by the project."""

from django.urls import path

from . import views

app_name = "verification"

urlpatterns = [
    path("verification/", views.status, name="status"),
    path("verification/individual/", views.individual, name="individual"),
    path("verification/enterprise/", views.enterprise, name="enterprise"),
    path("verification/documents/<int:pk>/", views.document, name="document"),
    path("guardian/", views.guardian, name="guardian"),
]
