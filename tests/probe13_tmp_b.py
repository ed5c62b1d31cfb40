import re, html
from datetime import timedelta
import pytest
from django.urls import reverse
from django.utils import timezone
from django.test import Client

from consent import ledger, policies, gates
from consent.models import ConsentEvent
from .factories import PolicyDocumentFactory, PolicyVersionFactory, UserFactory, PurposeFactory, RecipientFactory, DataSubjectRequestFactory

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}

def publish(doc, dpo, number, **kw):
    kw.setdefault("effective_at", timezone.now() - DAY)
    v = PolicyVersionFactory(document=doc, number=number, **kw)
    policies.publish(v, dpo)
    v.refresh_from_db()
    return v

@pytest.fixture
def xdoc(dpo):
    doc = PolicyDocumentFactory()
    publish(doc, dpo, 1, effective_at=timezone.now() - 60 * DAY,
            body_en="1. Intro\n<b>bold</b> & stuff\n2. Keep", body_zh="1. 介绍\n<b>粗</b>\n2. 保存")
    publish(doc, dpo, 2, significant=True, reduces_rights=True, significant_categories=["rights"],
            body_en='1. Intro\n<script>alert("x")</script><img src=x onerror=alert(1)>\n2. Keep',
            body_zh='1. 介绍\n<script>alert("x")</script>\n2. 保存',
            summary_en="<i>sum</i>", summary_zh="<i>摘</i>")
    return doc

def visible(content):
    s = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", content)
    s = re.sub(r"(?s)<!--.*?-->", " ", s)
    s = re.sub(r"(?s)<[^>]+>", "\n", s)
    return html.unescape(s)

def test_diff_escapes(client, xdoc):
    for lang in ({}, ZH):
        r = client.get(reverse("consent:diff", args=[xdoc.slug]), {"from": 1, "to": 2}, **lang)
        t = r.content.decode()
        assert r.status_code == 200
        assert "<script>alert" not in t and "<img src=x" not in t and "<b>bold" not in t
        assert "<i>sum" not in t

@pytest.mark.parametrize("q", ["from=abc&to=2", "from=1&from=2&to=2", "from=99999999999999999999999&to=1",
                               "from=-1&to=2", "from=2&to=1", "from=1&to=1", "", "from=%00&to=%00", "from=1.0&to=2"])
def test_diff_junk(client, xdoc, q):
    r = client.get(reverse("consent:diff", args=[xdoc.slug]) + "?" + q)
    print("diff", q, r.status_code)
    assert r.status_code < 500

def test_reconsent_page_date_formats(client, xdoc):
    member = UserFactory(date_joined=timezone.now() - 30 * DAY)
    client.force_login(member)
    for lang in ({}, ZH):
        r = client.get("/privacy/accept/?next=/account/", **lang)
        t = visible(r.content.decode())
        assert "<script>alert" not in r.content.decode()
        iso = re.findall(r"\b20\d\d-\d\d-\d\d\b", t)
        longf = re.findall(r"\b[A-Z][a-z]{2,4}\.? \d{1,2}, 20\d\d\b|20\d\d年\d+月\d+日", t)
        print(lang, "ISO:", iso, "LONG:", longf)
        assert not (iso and longf), f"two date formats on the reconsent page: {iso} vs {longf}"

def test_version_page_escapes(client, xdoc):
    for lang in ({}, ZH):
        t = client.get(reverse("consent:version", args=[xdoc.slug, 2]), **lang).content.decode()
        assert "<script>alert" not in t

def test_signup_acceptance_label_escapes(client, dpo):
    doc = PolicyDocumentFactory(title_en='<script>alert(1)</script>Policy', title_zh="<b>隐私</b>")
    publish(doc, dpo, 1)
    t = client.get(reverse("accounts:signup")).content.decode()
    assert "<script>alert(1)" not in t
    t = client.get(reverse("accounts:signup"), **ZH).content.decode()
    assert "<b>隐私" not in t

def test_cross_border_single_recheck(db):
    # a queued marketing message: user later withdraws cross-border -> outbox must not send
    from notifications.models import Notification
    mk = PurposeFactory(code="marketing", separate_consent="marketing")
    cb = PurposeFactory(code=gates.CROSS_BORDER_PURPOSE, separate_consent="cross_border")
    rec = RecipientFactory(name="HM", country="SG", active_from=timezone.localdate() - 10 * DAY)
    rec.purposes.add(mk)
    u = UserFactory()
    for p in (mk, cb):
        ledger.record(action="grant", channel="web", user=u, purpose=p)
    assert gates.send_marketing("s", "s", "b", "b", "k1") == 1
    ledger.record(action="withdraw", channel="web", user=u, purpose=cb)
    note = Notification.objects.get(recipient=u)
    assert gates.marketing_still_wanted(note) is False

@pytest.mark.parametrize("country", ["sg", " SG", "HK", "MO", "TW", "cn", ""])
def test_abroad_definition(db, country):
    r = RecipientFactory(country=country)
    print("country", repr(country), "abroad =", r.abroad)
