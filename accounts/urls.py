from django.urls import path

from . import profile_views, views

app_name = "accounts"

urlpatterns = [
    path("", views.center, name="center"),
    path("login/", views.phone_login, name="login"),
    path("login/password/", views.password_login, name="password_login"),
    path("signup/", views.signup, name="signup"),
    path("logout/", views.logout_view, name="logout"),
    path("profile/", views.profile, name="profile"),
    path("profile/password/", profile_views.password, name="password"),
    path("profile/photo/", profile_views.photo_upload, name="photo_upload"),
    path("profile/photo/remove/", profile_views.photo_remove, name="photo_remove"),
    path("photo/", profile_views.photo, name="photo"),
    path("photo/<int:user_id>/", profile_views.photo_of, name="photo_of"),
    path("linked/<str:provider>/start/", profile_views.linked_start, name="linked_start"),
    path("linked/<str:provider>/callback/", profile_views.linked_callback, name="linked_callback"),
    path("linked/<str:provider>/unlink/", profile_views.linked_unlink, name="linked_unlink"),
    path("language/", views.set_language, name="set_language"),
]
