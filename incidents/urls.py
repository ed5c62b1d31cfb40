"""The notices of breach incidents in the account center (SEC-1), under /account/incidents/."""

from django.urls import path

from . import views

app_name = "incidents"

urlpatterns = [
    path("<int:incident_id>/", views.notice, name="notice"),
    path("<int:incident_id>/seen/", views.seen, name="seen"),
]
