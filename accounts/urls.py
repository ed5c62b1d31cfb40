from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("", views.center, name="center"),
    path("login/", views.phone_login, name="login"),
    path("login/password/", views.password_login, name="password_login"),
    path("signup/", views.signup, name="signup"),
    path("logout/", views.logout_view, name="logout"),
    path("profile/", views.profile, name="profile"),
    path("language/", views.set_language, name="set_language"),
]
