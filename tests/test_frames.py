"""``{% frame %}`` (lib/frames.py): a part of a page that is the same for everyone, rendered once
per language, URLconf, script prefix and the values it names, then given back as it was."""

import pytest
from django.template import Context, Engine, TemplateSyntaxError, engines
from django.test import override_settings
from django.urls import set_script_prefix
from django.utils import translation

from lib import frames

from .factories import UserFactory


@pytest.fixture(autouse=True)
def _nothing_kept():
    frames.forget()
    yield
    frames.forget()


def render(source, **context):
    return engines["django"].from_string(source).render(context)


def test_a_frame_renders_what_its_content_renders():
    assert render('a{% frame "t" %}<b>{{ x }}</b>{% endframe %}c', x="1 < 2") == (
        "a<b>1 &lt; 2</b>c"
    )


def test_a_frame_gives_back_its_first_rendering_for_the_same_key():
    source = '{% frame "t" %}{{ x }}{% endframe %}'
    assert render(source, x="first") == "first"
    # What is not in the key is not read again: only values named after the name vary it.
    assert render(source, x="second") == "first"


def test_the_values_named_after_the_name_vary_the_frame():
    source = '{% frame "t" staff %}{% if staff %}admin{% else %}-{% endif %}{% endframe %}'
    assert render(source, staff=True) == "admin"
    assert render(source, staff=False) == "-"
    assert render(source, staff=True) == "admin"


def test_each_language_has_its_own_frame():
    source = '{% load i18n %}{% frame "t" %}{% translate "Sign in" %}{% endframe %}'
    with translation.override("en"):
        english = render(source)
    with translation.override("zh-hans"):
        chinese = render(source)
    assert english == "Sign in"
    assert chinese != english


def test_each_script_prefix_has_its_own_frame():
    source = "{% frame \"t\" %}{% url 'accounts:login' %}{% endframe %}"
    try:
        set_script_prefix("/portal/")
        assert render(source).startswith("/portal/")
    finally:
        set_script_prefix("/")
    assert not render(source).startswith("/portal/")


def test_a_changed_setting_forgets_every_frame():
    source = '{% frame "t" %}{{ x }}{% endframe %}'
    assert render(source, x="first") == "first"
    with override_settings(LANGUAGE_COOKIE_NAME="other"):
        assert render(source, x="second") == "second"


def test_values_that_cannot_be_a_key_render_every_time():
    source = '{% frame "t" values %}{{ x }}{% endframe %}'
    assert render(source, values=[1], x="first") == "first"
    assert render(source, values=[1], x="second") == "second"


def test_no_more_than_max_kept_frames_are_kept(monkeypatch):
    monkeypatch.setattr(frames, "MAX_KEPT", 2)
    source = '{% frame "t" n %}{{ x }}{% endframe %}'
    for n in range(5):
        render(source, n=n, x="first")
    assert len(frames._kept) == 2
    assert render(source, n=4, x="second") == "second"  # not kept: rendered again


@pytest.mark.parametrize(
    "source",
    [
        "{% frame %}x{% endframe %}",
        "{% frame name %}x{% endframe %}",
        '{% frame "x %}{% endframe %}',
        '{% frame " %}{% endframe %}',
    ],
)
def test_a_frame_needs_a_quoted_name(source):
    engine = Engine(builtins=["lib.frames"])
    with pytest.raises(TemplateSyntaxError, match="quoted name"):
        engine.from_string(source).render(Context())


@pytest.mark.django_db
def test_the_admin_link_of_a_staff_members_navigation_is_not_shown_to_others(client):
    staff = UserFactory(is_staff=True)
    member = UserFactory()
    client.force_login(staff)
    assert 'href="/admin/"' in client.get("/account/").content.decode()
    client.force_login(member)
    page = client.get("/account/").content.decode()
    assert 'href="/admin/"' not in page
    assert 'href="/account/profile/"' in page


@pytest.mark.django_db
def test_the_signed_in_navigation_is_not_shown_to_visitors(client):
    client.force_login(UserFactory())
    assert "/account/profile/" in client.get("/account/").content.decode()
    client.logout()
    page = client.get("/account/login/").content.decode()
    assert "/account/profile/" not in page
    assert "/account/signup/" in page


@pytest.mark.django_db
def test_the_navigation_follows_the_language(client):
    client.force_login(UserFactory(preferred_language="en"))
    english = client.get("/account/").content.decode()
    client.force_login(UserFactory(preferred_language="zh-hans"))
    chinese = client.get("/account/").content.decode()
    assert "My requests" in english
    assert "My requests" not in chinese
