from django.urls import path

from . import views

app_name = "requests"

urlpatterns = [
    path("", views.request_list, name="list"),
    path("new/", views.request_new, name="new"),
    path("<str:reference>/", views.request_detail, name="detail"),
    path("<str:reference>/withdraw/", views.request_withdraw, name="withdraw"),
    path("<str:reference>/files/<int:pk>/", views.attachment_download, name="attachment"),
]
