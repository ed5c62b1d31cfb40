"""The re-consent interstitial and the notice of significant changes (POL-1): a version that
reduces users' rights blocks them until they accept it; other significant versions show a notice
until it is dismissed."""

from datetime import timedelta

import pytest
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone

from consent import ledger, policies
from consent.middleware import PolicyConsentMiddleware
from consent.models import ConsentEvent, NoticeSeen

from .factories import (
    DataSubjectRequestFactory,
    PolicyDocumentFactory,
    PolicyVersionFactory,
    StaffFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)
CENTER = "/account/"
ACCEPT = "/privacy/accept/"


@pytest.fixture
def member():
    """A user who joined a month ago, under version 1."""
    return UserFactory(date_joined=timezone.now() - 30 * DAY)


@pytest.fixture
def doc(dpo):
    doc = PolicyDocumentFactory()
    v1 = PolicyVersionFactory(
        document=doc,
        number=1,
        effective_at=timezone.now() - 60 * DAY,
        body_en="We keep your data for one year.",
        body_zh="我们保存您的数据一年。",
    )
    policies.publish(v1, dpo)
    return doc


def publish(doc, dpo, number, **kw):
    kw.setdefault("effective_at", timezone.now() - DAY)
    version = PolicyVersionFactory(document=doc, number=number, **kw)
    policies.publish(version, dpo)
    version.refresh_from_db()
    return version


@pytest.fixture
def reducing(doc, dpo):
    return publish(
        doc,
        dpo,
        2,
        significant=True,
        reduces_rights=True,
        significant_categories=["rights"],
        body_en="We keep your data for five years.",
        body_zh="我们保存您的数据五年。",
        summary_en="Longer retention.",
        summary_zh="更长的保存期限。",
    )


@pytest.fixture
def notice_version(doc, dpo):
    return publish(
        doc,
        dpo,
        2,
        significant=True,
        significant_categories=["contacts"],
        summary_en="New contact for the data protection team.",
        summary_zh="数据保护团队的新联系方式。",
    )


def accept_post(client, version, **extra):
    return client.post(
        ACCEPT,
        {"decision": "accept", "version": version.pk, "next": CENTER},
        **extra,
    )


# --- Blocking -------------------------------------------------------------------------------------


def test_account_center_redirects_to_the_interstitial(client, member, reducing):
    client.force_login(member)
    response = client.get(CENTER)
    assert response.status_code == 302
    assert response.url == f"{ACCEPT}?next=%2Faccount%2F"


def test_request_pages_stay_open_so_a_declining_user_can_follow_a_deletion_request(
    client, member, reducing
):
    req = DataSubjectRequestFactory(requester=member)
    client.force_login(member)
    for url in (reverse("requests:list"), reverse("requests:detail", args=[req.reference])):
        assert client.get(url).status_code == 200
    post = client.post(reverse("requests:detail", args=[req.reference]), {"body": "Hello"})
    assert post.status_code == 302
    assert req.messages.count() == 1
    assert client.get(reverse("accounts:profile")).url.startswith(ACCEPT)


def test_interstitial_shows_summary_full_text_link_and_diff(client, member, reducing):
    client.force_login(member)
    page = client.get(ACCEPT, {"next": CENTER})
    text = page.content.decode()
    assert page.status_code == 200
    assert "Longer retention." in text
    assert reverse("consent:version", args=[reducing.document.slug, 2]) in text
    assert "<del>We keep your data for one year.</del>" in text
    assert "<ins>We keep your data for five years.</ins>" in text
    assert 'value="accept"' in text and 'value="decline"' in text


def test_interstitial_follows_the_users_language(client, reducing):
    member = UserFactory(date_joined=timezone.now() - 30 * DAY, preferred_language="zh-hans")
    client.force_login(member)
    text = client.get(ACCEPT).content.decode()
    assert "更长的保存期限。" in text and "<ins>我们保存您的数据五年。</ins>" in text


def test_accepting_records_evidence_and_releases_the_user(client, member, reducing):
    client.force_login(member)
    response = accept_post(
        client, reducing, REMOTE_ADDR="203.0.113.77", HTTP_USER_AGENT="Browser/" + "x" * 500
    )
    assert response.status_code == 302 and response.url == CENTER
    event = ConsentEvent.objects.get(user=member)
    assert event.action == ConsentEvent.Action.ACCEPT_POLICY
    assert event.channel == ConsentEvent.Channel.INTERSTITIAL
    assert event.policy_version == reducing
    assert event.evidence["ip_prefix"] == "203.0.113.0/24"
    assert len(event.evidence["user_agent"]) == 300
    assert "version 2" in event.evidence["wording"] and "accept" in event.evidence["wording"]
    assert "203.0.113.77" not in str(event.evidence)
    assert ledger.verify_chain().ok
    assert client.get(CENTER).status_code == 200
    assert policies.pending_reconsent(member) is None


def test_declining_is_recorded_explains_the_consequence_and_keeps_the_user_blocked(
    client, member, reducing
):
    client.force_login(member)
    page = client.post(ACCEPT, {"decision": "decline", "version": reducing.pk})
    text = page.content.decode()
    assert page.status_code == 200
    assert "cannot use your account" in text
    assert reverse("requests:new") in text
    assert reverse("accounts:logout") in text
    declined = ConsentEvent.objects.get(user=member)
    assert declined.action == ConsentEvent.Action.DECLINE_POLICY
    assert declined.policy_version == reducing
    assert declined.evidence["wording"]
    assert client.get(CENTER).status_code == 302


def test_a_declining_user_can_still_sign_out_switch_language_and_file_a_request(
    client, member, reducing
):
    client.force_login(member)
    assert client.get(reverse("requests:new")).status_code == 200
    # Withdrawing a consent stays as easy as giving it, acceptance pending or not.
    assert client.get(reverse("consents")).status_code == 200
    switch = client.post(reverse("accounts:set_language"), {"language": "zh-hans", "next": ACCEPT})
    assert switch.status_code == 302 and switch.url == ACCEPT
    assert client.get(reverse("consent:privacy")).status_code == 200
    assert client.get(reverse("consent:versions", args=[reducing.document.slug])).status_code == 200
    out = client.post(reverse("accounts:logout"))
    assert out.status_code == 302 and not out.url.startswith(ACCEPT)


def test_unclear_or_stale_answers_record_nothing(client, member, reducing):
    client.force_login(member)
    assert client.post(ACCEPT, {"version": reducing.pk}).status_code == 400
    assert client.post(ACCEPT, {"decision": "maybe", "version": reducing.pk}).status_code == 400
    stale = client.post(ACCEPT, {"decision": "accept", "version": reducing.pk + 1000})
    assert stale.status_code == 409
    assert not ConsentEvent.objects.filter(user=member).exists()


def test_next_cannot_send_the_user_elsewhere(client, member, reducing):
    client.force_login(member)
    response = client.post(
        ACCEPT, {"decision": "accept", "version": reducing.pk, "next": "https://evil.example/"}
    )
    assert response.status_code == 302 and response.url == CENTER


def test_interstitial_without_anything_pending_sends_the_user_on(client, member, doc):
    client.force_login(member)
    response = client.get(ACCEPT, {"next": reverse("requests:list")})
    assert response.status_code == 302 and response.url == reverse("requests:list")


def test_a_newer_reducing_version_asks_again(client, member, reducing, dpo):
    client.force_login(member)
    accept_post(client, reducing)
    v3 = publish(
        reducing.document,
        dpo,
        3,
        significant=True,
        reduces_rights=True,
        significant_categories=["rights"],
    )
    assert client.get(CENTER).status_code == 302
    assert policies.pending_reconsent(member) == v3
    accept_post(client, v3)
    assert client.get(CENTER).status_code == 200


def test_accepting_a_later_version_covers_an_earlier_reduction(member, reducing, dpo):
    v3 = publish(reducing.document, dpo, 3)
    policies.accept(member, v3)
    assert policies.pending_reconsent(member) is None


def test_not_yet_effective_versions_do_not_block(client, member, doc, dpo):
    publish(
        doc,
        dpo,
        2,
        significant=True,
        reduces_rights=True,
        significant_categories=["rights"],
        effective_at=timezone.now() + 3 * DAY,
    )
    client.force_login(member)
    assert client.get(CENTER).status_code == 200


def test_users_who_joined_under_the_new_version_are_not_blocked(client, reducing):
    newcomer = UserFactory()  # joined after version 2 took effect
    client.force_login(newcomer)
    assert client.get(CENTER).status_code == 200


def test_anonymous_visitors_are_not_redirected(client, reducing):
    response = client.get(CENTER)
    assert response.status_code == 302 and not response.url.startswith(ACCEPT)
    assert client.get(reverse("consent:privacy")).status_code == 200
    login_redirect = client.get(ACCEPT)
    assert login_redirect.status_code == 302 and "login" in login_redirect.url


def test_staff_in_the_admin_are_not_redirected(client, reducing):
    staff = StaffFactory(date_joined=timezone.now() - 30 * DAY)
    client.force_login(staff)
    assert client.get(reverse("admin:index")).status_code == 200
    assert client.get(reverse("admin:requests_datasubjectrequest_changelist")).status_code == 200
    # Outside the admin, a staff member is asked like everyone else.
    assert client.get(CENTER).status_code == 302


# --- The notice -----------------------------------------------------------------------------------


def test_significant_version_shows_a_notice_until_dismissed(client, member, notice_version):
    client.force_login(member)
    page = client.get(CENTER)
    assert page.status_code == 200
    text = page.content.decode()
    assert "New contact for the data protection team." in text
    seen_url = reverse("consent:notice_seen", args=[notice_version.pk])
    assert seen_url in text
    response = client.post(seen_url, {"next": CENTER})
    assert response.status_code == 302 and response.url == CENTER
    assert NoticeSeen.objects.filter(user=member, policy_version=notice_version).count() == 1
    assert seen_url not in client.get(CENTER).content.decode()
    client.post(seen_url, {"next": CENTER})  # twice: still one row
    assert NoticeSeen.objects.filter(user=member).count() == 1


def test_notice_is_in_the_users_language(client, notice_version):
    member = UserFactory(date_joined=timezone.now() - 30 * DAY, preferred_language="zh-hans")
    client.force_login(member)
    assert "数据保护团队的新联系方式。" in client.get(CENTER).content.decode()


def test_notice_is_not_shown_to_anonymous_visitors_or_newcomers(client, notice_version):
    seen_url = reverse("consent:notice_seen", args=[notice_version.pk])
    assert seen_url not in client.get(reverse("consent:privacy")).content.decode()
    newcomer = UserFactory()  # joined after the version was published
    client.force_login(newcomer)
    assert seen_url not in client.get(CENTER).content.decode()
    assert policies.pending_notice(newcomer) is None


def test_dismissing_needs_a_post_and_a_significant_published_version(client, member, doc, dpo):
    minor = publish(doc, dpo, 2)  # not significant
    client.force_login(member)
    assert client.get(reverse("consent:notice_seen", args=[minor.pk])).status_code == 405
    assert client.post(reverse("consent:notice_seen", args=[minor.pk])).status_code == 404
    assert client.post(reverse("consent:notice_seen", args=[99999])).status_code == 404
    assert not NoticeSeen.objects.exists()


def test_dismissing_the_newest_notice_covers_older_ones(member, notice_version, dpo):
    v3 = publish(
        notice_version.document, dpo, 3, significant=True, significant_categories=["control"]
    )
    assert policies.pending_notice(member) == v3
    policies.mark_notice_seen(member, v3)
    assert policies.pending_notice(member) is None


def test_a_rights_reduction_is_not_a_mere_notice(member, reducing):
    pending = policies.pending_for(member)
    assert pending.reconsent == reducing and pending.notice is None


# --- Cost ---------------------------------------------------------------------------------------


def _run_middleware(rf, user, path):
    request = rf.get(path)
    request.user = user
    request.session = {}
    return PolicyConsentMiddleware(lambda r: HttpResponse("ok"))(request), request


def test_middleware_costs_at_most_one_query_for_a_user(
    rf, member, notice_version, dpo, django_assert_max_num_queries
):
    for number in range(3, 8):  # a longer history must not cost more
        publish(
            notice_version.document,
            dpo,
            number,
            significant=True,
            significant_categories=["contacts"],
        )
    with django_assert_max_num_queries(1):
        response, request = _run_middleware(rf, member, CENTER)
    assert response.status_code == 200
    assert request.policy_notice is not None


def test_middleware_costs_one_query_with_nothing_pending(rf, doc, django_assert_num_queries):
    user = UserFactory()
    with django_assert_num_queries(1):
        response, request = _run_middleware(rf, user, CENTER)
    assert response.status_code == 200 and request.policy_notice is None


def test_middleware_costs_nothing_for_anonymous_static_and_admin(
    rf, member, reducing, django_assert_num_queries
):
    from django.contrib.auth.models import AnonymousUser

    with django_assert_num_queries(0):
        anonymous, _ = _run_middleware(rf, AnonymousUser(), CENTER)
        static, _ = _run_middleware(rf, member, "/static/css/portal.css")
        admin, _ = _run_middleware(rf, member, "/admin/")
    assert anonymous.status_code == static.status_code == admin.status_code == 200
