"""The account center's data pages (``/account/data/``, ``/account/delete/``) and the public
certificate check (``/privacy/certificate/``), mounted at the site root by the project."""

from django.urls import path

from . import views, views_recipients

app_name = "lifecycle"

urlpatterns = [
    path("account/data/", views.data_home, name="data"),
    path("account/data/exports/", views.export_create, name="export_create"),
    path("account/data/exports/<int:pk>/download/", views.export_download, name="download"),
    path("account/delete/", views.delete_account, name="delete_account"),
    path("account/delete/scheduled/", views.deletion_pending, name="deletion_pending"),
    path("privacy/certificate/", views.certificate, name="certificate"),
    # A recipient's signed acknowledgement that it erased what it was told to (PIPL art. 47).
    path(
        "privacy/erasure-ack/<int:pk>/<str:token>/",
        views_recipients.acknowledge,
        name="recipient_ack",
    ),
]
