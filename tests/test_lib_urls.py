"""lib.urls.reverse_once: one reverse() per URLconf and script prefix, the same address."""

import pytest
from django.urls import NoReverseMatch, reverse, set_script_prefix

from lib.admin import person_url
from lib.urls import reverse_once


def test_reverse_once_gives_what_reverse_gives():
    assert reverse_once("admin:person", (42,)) == reverse("admin:person", args=[42])
    assert person_url(42) == reverse("admin:person", args=[42])


def test_a_new_urlconf_is_not_answered_from_the_old_one(settings):
    before = reverse_once("admin:requests_datasubjectrequest_changelist")
    # The error-page URLconf mounts the same site: the same address, but reversed again there
    # (a URLconf that lacked the name would raise, not return the old address).
    settings.ROOT_URLCONF = "tests.error_pages_urls"
    assert reverse_once("admin:requests_datasubjectrequest_changelist") == before
    settings.ROOT_URLCONF = "tests.urls_without_admin"
    with pytest.raises(NoReverseMatch):  # not answered from the old URLconf
        reverse_once("admin:requests_datasubjectrequest_changelist")


def test_the_script_prefix_is_part_of_the_address():
    try:
        set_script_prefix("/portal/")
        assert person_url(7).startswith("/portal/")
    finally:
        set_script_prefix("/")
    assert not person_url(7).startswith("/portal/")
