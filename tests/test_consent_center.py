"""The account center's consent page and the public recipients page (CON-1..3, ACC-3, SHR-1,
STO-1), for three personas: the owner, another user and an anonymous visitor."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from consent import ledger
from consent.models import ConsentEvent

from .factories import (
    PolicyVersionFactory,
    PurposeFactory,
    RecipientFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
A = ConsentEvent.Action
PAGE = reverse("consents")
RECIPIENTS = reverse("consent:recipients")


@pytest.fixture
def marketing():
    return PurposeFactory(
        code="marketing",
        name_en="Our offers",
        name_zh="营销信息",
        description_en="News about our offers by e-mail.",
        description_zh="通过电子邮件发送优惠信息。",
        separate_consent="marketing",
    )


@pytest.fixture
def analytics():
    return PurposeFactory(code="analytics", name_en="Usage analytics", name_zh="使用分析")


@pytest.fixture
def essential():
    return PurposeFactory(
        code="account",
        name_en="Running your account",
        name_zh="运行您的账户",
        essential=True,
        legal_basis="contract",
    )


@pytest.fixture
def policy():
    """The privacy policy in force: published yesterday."""
    yesterday = timezone.now() - timedelta(days=1)
    return PolicyVersionFactory(number=3, published_at=yesterday, effective_at=yesterday)


def post(client, code, action, **extra):
    return client.post(PAGE, {"purpose": code, "action": action}, **extra)


def flash(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- Anonymous ----------------------------------------------------------------------------------


def test_anonymous_visitor_is_sent_to_sign_in(client, marketing):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


def test_anonymous_post_records_nothing(client, marketing):
    response = post(client, "marketing", "grant")
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]
    assert not ConsentEvent.objects.exists()


# --- The owner's page -----------------------------------------------------------------------------


def test_page_lists_optional_purposes_with_state_and_essential_ones_without_toggle(
    user_client, user, marketing, analytics, essential
):
    ledger.record(action=A.GRANT, channel="web", user=user, purpose=analytics)
    response = user_client.get(PAGE)
    assert response.status_code == 200
    optional = {item["purpose"].code: item["granted"] for item in response.context["optional"]}
    # sensitive-verification: created by migration consent/0006, given on the verification form
    assert optional == {"marketing": False, "analytics": True, "sensitive-verification": False}
    assert [p.code for p in response.context["needed"]] == ["account"]
    html = response.content.decode()
    assert "Running your account" in html
    assert 'name="purpose" value="account"' not in html  # no button for essential processing
    assert 'name="purpose" value="marketing"' in html


def test_separate_consent_purpose_says_it_is_separate(user_client, marketing, analytics):
    html = user_client.get(PAGE).content.decode()
    # marketing, and sensitive-verification (created by migration consent/0006)
    assert html.count("separate, explicit consent") == 2
    assert "News about our offers by e-mail." in html


def test_inactive_purposes_are_not_listed(user_client, marketing):
    PurposeFactory(code="retired", name_en="Retired purpose", active=False)
    assert "Retired purpose" not in user_client.get(PAGE).content.decode()


def test_account_center_links_to_the_consent_page(user_client):
    html = user_client.get(reverse("accounts:center")).content.decode()
    assert f'href="{PAGE}"' in html


# --- Granting and withdrawing ---------------------------------------------------------------------


def test_grant_records_a_ledger_row_with_evidence_and_policy_version(
    user_client, user, marketing, policy
):
    response = post(
        user_client,
        "marketing",
        "grant",
        HTTP_USER_AGENT="TestBrowser/1.0",
        REMOTE_ADDR="203.0.113.57",
    )
    assert response.status_code == 302
    assert response["Location"] == PAGE
    event = ConsentEvent.objects.get()
    assert (event.user, event.purpose, event.action) == (user, marketing, A.GRANT)
    assert event.channel == ConsentEvent.Channel.WEB
    assert event.policy_version == policy
    assert event.evidence["ip_prefix"] == "203.0.113.0/24"
    assert "203.0.113.57" not in str(event.evidence)
    assert event.evidence["user_agent"] == "TestBrowser/1.0"
    assert event.evidence["wording"] == "Our offers: News about our offers by e-mail."
    assert ledger.has_consent("marketing", user=user)


def test_withdrawal_takes_effect_at_once(user_client, user, marketing):
    post(user_client, "marketing", "grant")
    response = post(user_client, "marketing", "withdraw", follow=True)
    assert not ledger.has_consent("marketing", user=user)
    assert [e.action for e in ConsentEvent.objects.order_by("id")] == [A.GRANT, A.WITHDRAW]
    assert any("withdrawn" in m for m in flash(response))
    item = response.context["optional"][0]
    assert item["granted"] is False


def test_policy_version_is_empty_when_no_policy_is_published(user_client, marketing):
    post(user_client, "marketing", "grant")
    assert ConsentEvent.objects.get().policy_version is None


def test_repeating_the_current_choice_records_nothing(user_client, user, marketing):
    post(user_client, "marketing", "grant")
    response = post(user_client, "marketing", "grant", follow=True)
    assert ConsentEvent.objects.count() == 1
    assert any("Nothing changed" in m for m in flash(response))
    post(user_client, "analytics-none", "withdraw")  # unknown: also nothing
    assert ConsentEvent.objects.count() == 1


@pytest.mark.parametrize(
    ("code", "action", "status"),
    [
        ("does-not-exist", "grant", 404),
        ("", "grant", 404),
        ("account", "grant", 400),  # essential
        ("account", "withdraw", 400),
        ("retired", "grant", 400),  # inactive
        ("tax", "grant", 400),  # legal obligation, not consent
        ("marketing", "delete", 400),  # not an action
        ("marketing", "accept_policy", 400),
        ("marketing", "", 400),
    ],
)
def test_bad_purpose_or_action_is_refused_and_nothing_recorded(
    user_client, user, marketing, essential, code, action, status
):
    PurposeFactory(code="retired", active=False)
    PurposeFactory(code="tax", legal_basis="legal_obligation")
    response = post(user_client, code, action)
    assert response.status_code == status
    assert response.context["error"]
    assert not ConsentEvent.objects.exists()
    assert not ledger.granted_codes(user=user)


def test_get_only_and_post_methods_are_allowed(user_client, marketing):
    assert user_client.put(PAGE).status_code == 405
    assert not ConsentEvent.objects.exists()


# --- Another user ---------------------------------------------------------------------------------


def test_another_users_decisions_do_not_touch_the_owner(client, user, other_user, marketing):
    ledger.record(action=A.GRANT, channel="web", user=user, purpose=marketing)
    client.force_login(other_user)
    post(client, "marketing", "grant")
    post(client, "marketing", "withdraw")
    assert ledger.has_consent("marketing", user=user)
    assert ConsentEvent.objects.filter(user=other_user).count() == 2
    assert ConsentEvent.objects.filter(user=user).count() == 1


def test_history_shows_only_the_users_own_decisions(client, user, other_user, marketing):
    mine = ledger.record(action=A.GRANT, channel="web", user=user, purpose=marketing)
    theirs = ledger.record(action=A.GRANT, channel="web", user=other_user, purpose=marketing)
    ledger.record(action=A.GRANT, channel="cookie_banner", visitor="a" * 32, purpose=marketing)
    client.force_login(user)
    page = client.get(PAGE).context["page"]
    assert [e.pk for e in page.object_list] == [mine.pk]
    client.force_login(other_user)
    page = client.get(PAGE).context["page"]
    assert [e.pk for e in page.object_list] == [theirs.pk]


def test_history_is_newest_first_and_paginated(user_client, user, marketing):
    events = []
    for i in range(25):
        action = A.GRANT if i % 2 == 0 else A.WITHDRAW
        events.append(ledger.record(action=action, channel="web", user=user, purpose=marketing))
    first = user_client.get(PAGE).context["page"]
    assert [e.pk for e in first.object_list] == [e.pk for e in reversed(events)][:20]
    second = user_client.get(PAGE, {"page": 2}).context["page"]
    assert [e.pk for e in second.object_list] == [e.pk for e in reversed(events)][20:]
    assert user_client.get(PAGE, {"page": "x"}).status_code == 200  # bad page: first page


def test_history_query_count_does_not_grow_with_rows(
    user_client, user, marketing, policy, django_assert_max_num_queries
):
    for _ in range(3):
        ledger.record(
            action=A.GRANT, channel="web", user=user, purpose=marketing, policy_version=policy
        )
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        user_client.get(PAGE)
    for _ in range(15):
        ledger.record(
            action=A.WITHDRAW, channel="web", user=user, purpose=marketing, policy_version=policy
        )
    with CaptureQueriesContext(connection) as many:
        user_client.get(PAGE)
    assert len(many) == len(few)


# --- Languages ------------------------------------------------------------------------------------


def test_chinese_user_sees_purpose_names_in_chinese_and_evidence_keeps_the_chinese_wording(
    client, marketing
):
    chinese = UserFactory(preferred_language="zh-hans")
    client.force_login(chinese)
    html = client.get(PAGE).content.decode()
    assert "营销信息" in html
    assert "Our offers" not in html
    post(client, "marketing", "grant")
    event = ConsentEvent.objects.get()
    assert event.evidence["wording"] == "营销信息: 通过电子邮件发送优惠信息。"
    assert event.evidence["language"].startswith("zh")


def test_english_user_sees_english_names(user_client, marketing):
    html = user_client.get(PAGE, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "Our offers" in html  # the preferred language wins over the browser
    assert "营销信息" not in html


# --- The recipients page --------------------------------------------------------------------------


@pytest.fixture
def recipients():
    today = timezone.localdate()
    domestic = RecipientFactory(
        name="Beijing Pay",
        legal_entity="Beijing Pay Co., Ltd.",
        purpose_en="Payments",
        purpose_zh="支付",
        scenario_en="When you pay",
        scenario_zh="付款时",
        method="server_api",
        data_fields_en="Order number",
        data_fields_zh="订单号",
        country="CN",
        link="https://pay.example.cn/privacy",
    )
    abroad = RecipientFactory(
        name="Global Mail",
        legal_entity="Global Mail Inc.",
        purpose_en="Sending e-mail",
        purpose_zh="发送电子邮件",
        data_fields_en="E-mail address",
        data_fields_zh="电子邮件地址",
        country="US",
    )
    ended = RecipientFactory(
        name="Old Partner",
        active_from=today - timedelta(days=100),
        active_to=today - timedelta(days=1),
    )
    future = RecipientFactory(name="Future Partner", active_from=today + timedelta(days=3))
    return domestic, abroad, ended, future


def test_recipients_page_in_english_marks_recipients_abroad(client, recipients):
    response = client.get(RECIPIENTS, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        "Beijing Pay",
        "Beijing Pay Co., Ltd.",
        "Payments",
        "When you pay",
        "Order number",
        "https://pay.example.cn/privacy",
        "Global Mail",
        "US",
    ):
        assert text in html
    rows = {r["name"]: r for r in response.context["rows"]}
    assert rows["Global Mail"]["abroad"] is True
    assert rows["Beijing Pay"]["abroad"] is False
    assert html.count('class="abroad-marker"') == 1


def test_recipients_page_in_chinese(client, recipients):
    response = client.get(RECIPIENTS, HTTP_ACCEPT_LANGUAGE="zh-CN")
    html = response.content.decode()
    assert "支付" in html and "付款时" in html and "电子邮件地址" in html
    assert "Payments" not in html


def test_recipients_page_hides_ended_and_future_recipients(client, recipients):
    names = {r["name"] for r in client.get(RECIPIENTS).context["rows"]}
    assert names == {"Beijing Pay", "Global Mail"}


def test_recipients_page_without_recipients_says_so(client):
    response = client.get(RECIPIENTS)
    assert response.status_code == 200
    assert response.context["rows"] == []


def test_recipients_of_a_published_version_come_from_its_snapshot(client):
    snapshot = [
        {
            "name": "Snapshot Co",
            "legal_entity": "Snapshot Co Ltd",
            "purpose_en": "Support",
            "purpose_zh": "客服",
            "method": "sdk",
            "data_fields_en": "Name",
            "data_fields_zh": "姓名",
            "country": "SG",
            "abroad": True,
            "link": "javascript:alert(1)",
        },
    ]
    version = PolicyVersionFactory(
        number=7, published_at=timezone.now(), recipients_snapshot=snapshot
    )
    url = reverse("consent:recipients_version", args=[version.number])
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Snapshot Co" in html and "Support" in html
    assert "javascript:" not in html
    assert response.context["rows"][0]["abroad"] is True
    chinese = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "客服" in chinese


def test_version_with_empty_snapshot_shows_a_note(client):
    version = PolicyVersionFactory(number=8, published_at=timezone.now())
    response = client.get(reverse("consent:recipients_version", args=[version.number]))
    assert response.status_code == 200
    assert "No list of recipients was recorded with this version." in response.content.decode()


def test_unpublished_or_missing_version_is_404(client):
    draft = PolicyVersionFactory(number=9, recipients_snapshot=[{"name": "Secret draft"}])
    assert client.get(reverse("consent:recipients_version", args=[draft.number])).status_code == 404
    assert client.get(reverse("consent:recipients_version", args=[999])).status_code == 404


def test_refuse_is_not_a_way_to_turn_a_consent_off(user_client, user):
    """Only the cookie banner records "not given", for a consent never given; the page gives
    or withdraws."""
    PurposeFactory(code="newsletter", separate_consent="marketing")
    user_client.post(PAGE, {"purpose": "newsletter", "action": "grant"})
    response = user_client.post(PAGE, {"purpose": "newsletter", "action": "refuse"})
    assert response.status_code == 400
    assert list(
        ConsentEvent.objects.filter(user=user).order_by("id").values_list("action", flat=True)
    ) == ["grant"]
