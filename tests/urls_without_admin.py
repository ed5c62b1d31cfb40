"""A URLconf without the admin, for tests/test_lib_urls.py."""

urlpatterns = []
