"""The Chinese interface reads right (issue 13): full-width punctuation after Chinese labels, one
term per concept, one date format per language."""

import re
from datetime import datetime

import polib
import pytest
from django import forms
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

CATALOG = settings.BASE_DIR / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
# A Chinese character or full-width punctuation followed by an ASCII colon (not "http://").
ASCII_COLON_AFTER_CHINESE = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]:(?!//)")


def _translations():
    for entry in polib.pofile(str(CATALOG)):
        for text in (entry.msgstr, *entry.msgstr_plural.values()):
            if text:
                yield entry.msgid, text


def test_no_translation_puts_an_ascii_colon_after_chinese():
    bad = [
        (msgid, text) for msgid, text in _translations() if ASCII_COLON_AFTER_CHINESE.search(text)
    ]
    assert not bad, bad[:5]


def test_one_term_per_concept():
    """The law's and the policy's words: 个人信息保护负责人 (not 数据保护官), 账号 (not 账户)."""
    for msgid, text in _translations():
        assert "数据保护官" not in text, msgid
        assert "账户" not in text, msgid


class _Form(forms.Form):
    phone = forms.CharField(label="Mobile phone")
    question = forms.CharField(label="What would you like us to do?")


def test_form_labels_end_in_a_full_width_colon_in_chinese():
    with translation.override("zh-hans"):
        form = _Form()
        assert form["phone"].label_tag().endswith("：</label>")
        form.fields["question"].label = "您希望我们为您做什么？"
        tag = form["question"].label_tag()
        assert "？</label>" in tag and "？：" not in tag and "?:" not in tag
    with translation.override("en"):
        assert _Form()["phone"].label_tag().endswith(":</label>")


@pytest.mark.django_db
@pytest.mark.parametrize("route", ["accounts:login", "accounts:password_login", "accounts:signup"])
def test_no_chinese_label_on_the_sign_in_pages_ends_in_an_ascii_colon(client, route):
    page = client.get(reverse(route), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    labels = re.findall(r"<label[^>]*>(.*?)</label>", page, re.S)
    assert labels
    assert not [label for label in labels if ASCII_COLON_AFTER_CHINESE.search(label)]


def test_one_date_format_per_language():
    moment = timezone.make_aware(datetime(2026, 11, 30, 19, 53))
    for language, expected in (("en", "Nov. 30, 2026"), ("zh-hans", "2026年11月30日")):
        with translation.override(language):
            assert date_format(moment, "DATE_FORMAT") == expected
            assert date_format(moment, "SHORT_DATE_FORMAT") == expected
            assert date_format(moment, "SHORT_DATETIME_FORMAT") == date_format(
                moment, "DATETIME_FORMAT"
            )


@pytest.mark.django_db
def test_the_sign_up_language_follows_the_page():
    from accounts.forms import SignupForm

    for language, expected in (("en", "en"), ("zh-hans", "zh-hans")):
        with translation.override(language):
            assert SignupForm().fields["preferred_language"].initial == expected


def _visible_text(html):
    return re.sub(r"(?s)<style.*?</style>|<[^>]+>", " ", html)


@pytest.mark.django_db
def test_the_chinese_report_puts_no_ascii_colon_after_chinese():
    from privacyportal import reports

    figures = reports.monthly_figures(2026, 10)
    text = _visible_text(reports.render_html(figures, "zh-hans"))
    assert "合规报告" in text
    assert not ASCII_COLON_AFTER_CHINESE.search(text), ASCII_COLON_AFTER_CHINESE.findall(text)


@pytest.mark.django_db
def test_the_verification_card_puts_no_ascii_colon_after_chinese(client):
    from .factories import UserFactory, VerificationFactory

    user = UserFactory(preferred_language="zh-hans")
    VerificationFactory(user=user)
    client.force_login(user)
    text = _visible_text(client.get(reverse("accounts:center")).content.decode())
    assert "实名认证" in text
    assert not ASCII_COLON_AFTER_CHINESE.search(text), ASCII_COLON_AFTER_CHINESE.findall(text)
