"""Policy documents and versions: publishing rules, immutability, the public pages in both
languages, history and diffs (POL-1, SHR-1)."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from consent import policies
from consent.models import Campaign, PolicyDocument, PolicyVersion

from .factories import (
    PolicyDocumentFactory,
    PolicyVersionFactory,
    RecipientFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


@pytest.fixture
def admin_user(db):
    return UserFactory(is_staff=True, is_superuser=True, email="root@example.com")


@pytest.fixture
def doc():
    return PolicyDocumentFactory()


def make_version(doc, number, publish_by=None, **kw):
    kw.setdefault("effective_at", timezone.now() - DAY)
    version = PolicyVersionFactory(document=doc, number=number, **kw)
    if publish_by is not None:
        policies.publish(version, publish_by)
        version.refresh_from_db()
    return version


# --- Publishing -----------------------------------------------------------------------------------


def test_publish_records_who_and_when(doc, dpo):
    version = make_version(doc, 1)
    assert not version.is_published
    policies.publish(version, dpo)
    version.refresh_from_db()
    assert version.is_published
    assert version.published_by == dpo
    assert abs(version.published_at - timezone.now()) < timedelta(seconds=30)


def test_a_version_cannot_be_published_twice(doc, dpo):
    version = make_version(doc, 1, publish_by=dpo)
    first = version.published_at
    with pytest.raises(policies.PolicyError, match="already published"):
        policies.publish(version, UserFactory())
    version.refresh_from_db()
    assert version.published_at == first
    assert version.published_by == dpo


def test_version_numbers_must_increase(doc, dpo):
    make_version(doc, 2, publish_by=dpo)
    older = make_version(doc, 1)
    with pytest.raises(policies.PolicyError, match="not newer"):
        policies.publish(older, dpo)
    older.refresh_from_db()
    assert not older.is_published


def test_numbers_of_other_documents_do_not_interfere(doc, dpo):
    make_version(doc, 5, publish_by=dpo)
    other = PolicyDocumentFactory(slug="user-agreement", kind="user_agreement")
    version = make_version(other, 1, publish_by=dpo)
    assert version.is_published


def test_significant_version_must_name_a_category(doc, dpo):
    version = make_version(doc, 1, significant=True, significant_categories=[])
    with pytest.raises(policies.PolicyError, match="category"):
        policies.publish(version, dpo)
    bogus = make_version(doc, 2, significant=True, significant_categories=["made-up"])
    with pytest.raises(policies.PolicyError, match="made-up"):
        policies.publish(bogus, dpo)
    assert not PolicyVersion.objects.filter(published_at__isnull=False).exists()


def test_publish_needs_both_languages(doc, dpo):
    version = make_version(doc, 1, body_zh="   ")
    with pytest.raises(policies.PolicyError, match="both English and Chinese"):
        policies.publish(version, dpo)


def test_privacy_policy_version_snapshots_recipients_active_at_its_effective_date(doc, dpo):
    today = timezone.localdate()
    active = RecipientFactory(name="Active Co", country="SG", purpose_zh="统计")
    RecipientFactory(name="Gone Co", active_from=today - 30 * DAY, active_to=today - 10 * DAY)
    RecipientFactory(name="Future Co", active_from=today + 10 * DAY)
    version = make_version(doc, 1, effective_at=timezone.now(), publish_by=dpo)
    names = [r["name"] for r in version.recipients_snapshot]
    assert names == ["Active Co"]
    snap = version.recipients_snapshot[0]
    assert snap["country"] == "SG" and snap["abroad"] is True
    assert snap["purpose_en"] == active.purpose_en and snap["purpose_zh"] == "统计"
    assert snap["data_fields_zh"] == active.data_fields_zh
    # Later changes of the registry do not change what the published version disclosed.
    active.name = "Renamed Co"
    active.save()
    version.refresh_from_db()
    assert version.recipients_snapshot[0]["name"] == "Active Co"


def test_other_documents_do_not_snapshot_recipients(dpo):
    RecipientFactory()
    other = PolicyDocumentFactory(slug="cookies", kind="cookie_policy")
    version = make_version(other, 1, publish_by=dpo)
    assert version.recipients_snapshot == []


def test_only_significant_versions_start_a_campaign(doc, dpo):
    make_version(doc, 1, publish_by=dpo)
    assert Campaign.objects.count() == 0
    make_version(doc, 2, publish_by=dpo, significant=True, significant_categories=["recipients"])
    assert Campaign.objects.count() == 1


# --- Immutability -------------------------------------------------------------------------------


def test_published_text_cannot_be_changed_through_save(doc, dpo):
    version = make_version(doc, 1, publish_by=dpo)
    version.body_en = "Something else entirely."
    with pytest.raises(policies.ImmutableVersionError):
        version.save()
    assert PolicyVersion.objects.get(pk=version.pk).body_en != "Something else entirely."


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("summary_zh", "改了"),
        ("significant", True),
        ("reduces_rights", True),
        ("significant_categories", ["rights"]),
        ("number", 9),
    ],
)
def test_published_flags_and_summary_cannot_be_changed(doc, dpo, field, value):
    version = make_version(doc, 1, publish_by=dpo)
    setattr(version, field, value)
    with pytest.raises(policies.ImmutableVersionError):
        version.save()


def test_published_version_cannot_be_deleted(doc, dpo):
    version = make_version(doc, 1, publish_by=dpo)
    with pytest.raises(policies.ImmutableVersionError), transaction.atomic():
        version.delete()
    assert PolicyVersion.objects.filter(pk=version.pk).exists()


def test_a_draft_can_still_be_edited_and_saving_a_published_one_unchanged_is_fine(doc, dpo):
    draft = make_version(doc, 1)
    draft.body_en = "Corrected draft."
    draft.save()
    assert PolicyVersion.objects.get(pk=draft.pk).body_en == "Corrected draft."
    policies.publish(draft, dpo)
    draft.refresh_from_db()
    draft.save()  # no change: allowed


def test_admin_shows_a_published_version_read_only(client, admin_user, doc):
    version = make_version(doc, 1, publish_by=admin_user)
    client.force_login(admin_user)
    url = reverse("admin:consent_policyversion_change", args=[version.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="body_en"' not in page.content.decode()
    response = client.post(url, {"body_en": "Rewritten", "body_zh": "改写", "number": 1})
    assert response.status_code == 403
    version.refresh_from_db()
    assert version.body_en != "Rewritten"
    delete = client.post(
        reverse("admin:consent_policyversion_delete", args=[version.pk]), {"post": "yes"}
    )
    assert delete.status_code == 403
    assert PolicyVersion.objects.filter(pk=version.pk).exists()


def test_admin_edits_a_draft(client, admin_user, doc):
    draft = make_version(doc, 1)
    client.force_login(admin_user)
    url = reverse("admin:consent_policyversion_change", args=[draft.pk])
    publish_url = reverse("admin:consent_policyversion_publish", args=[draft.pk])
    assert publish_url in client.get(url).content.decode()
    data = {
        "document": doc.pk,
        "number": 1,
        "effective_at_0": "2030-01-01",
        "effective_at_1": "00:00:00",
        "body_en": "New draft text.",
        "body_zh": "新草稿。",
        "summary_en": "",
        "summary_zh": "",
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    draft.refresh_from_db()
    assert draft.body_en == "New draft text."


def test_admin_add_form_refuses_inconsistent_flags_and_old_numbers(client, admin_user, doc):
    make_version(doc, 3, publish_by=admin_user)
    client.force_login(admin_user)
    data = {
        "document": doc.pk,
        "number": 2,
        "effective_at_0": "2030-01-01",
        "effective_at_1": "00:00:00",
        "body_en": "Text.",
        "body_zh": "文本。",
        "reduces_rights": "on",
    }
    response = client.post(reverse("admin:consent_policyversion_add"), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "number" in errors and "reduces_rights" in errors
    data.update({"number": 4, "significant": "on"})
    response = client.post(reverse("admin:consent_policyversion_add"), data)
    assert "significant_categories" in response.context["adminform"].form.errors
    data["significant_categories"] = ["rights"]
    response = client.post(reverse("admin:consent_policyversion_add"), data)
    assert response.status_code == 302
    created = PolicyVersion.objects.get(document=doc, number=4)
    assert created.significant_categories == ["rights"] and not created.is_published


def test_admin_add_form_starts_from_the_latest_text(client, admin_user, doc):
    make_version(doc, 1, body_en="Latest English text.")
    client.force_login(admin_user)
    page = client.get(reverse("admin:consent_policyversion_add"), {"document": doc.pk})
    form = page.context["adminform"].form
    assert form.initial["number"] == 2
    assert form.initial["body_en"] == "Latest English text."
    bad = client.get(reverse("admin:consent_policyversion_add"), {"document": "x"})
    assert bad.status_code == 200 and "number" not in bad.context["adminform"].form.initial


def test_admin_publish_confirmation_then_publish_once(client, admin_user, doc):
    UserFactory.create_batch(3)
    make_version(doc, 1, publish_by=admin_user)
    version = make_version(
        doc,
        2,
        significant=True,
        reduces_rights=True,
        significant_categories=["rights"],
        body_en="We process your personal data for more purposes.",
    )
    client.force_login(admin_user)
    url = reverse("admin:consent_policyversion_publish", args=[version.pk])
    page = client.get(url)
    text = page.content.decode()
    assert page.status_code == 200
    assert "Re-consent required" in text
    audience = page.context["audience"]
    assert audience == 4  # three users and the admin
    assert f"{audience} active users" in text
    assert "<ins>We process your personal data for more purposes.</ins>" in text

    response = client.post(url)
    assert response.status_code == 302
    version.refresh_from_db()
    assert version.is_published and version.published_by == admin_user
    assert Campaign.objects.filter(policy_version=version).count() == 1

    again = client.post(url, follow=True)
    assert "already published" in again.content.decode()
    assert Campaign.objects.filter(policy_version=version).count() == 1


def test_admin_publish_page_lists_problems_and_publishes_nothing(client, admin_user, doc):
    make_version(doc, 2, publish_by=admin_user)
    old = make_version(doc, 1)
    client.force_login(admin_user)
    url = reverse("admin:consent_policyversion_publish", args=[old.pk])
    page = client.get(url)
    assert "not newer" in page.content.decode()
    client.post(url)
    old.refresh_from_db()
    assert not old.is_published


def test_admin_publish_needs_change_permission(client, staff, doc):
    version = make_version(doc, 1)
    client.force_login(staff)
    response = client.post(reverse("admin:consent_policyversion_publish", args=[version.pk]))
    assert response.status_code == 403
    version.refresh_from_db()
    assert not version.is_published


def test_document_slug_cannot_take_the_address_of_a_fixed_page(client, admin_user):
    client.force_login(admin_user)
    data = {
        "slug": "accept",
        "kind": "other",
        "title_en": "Accept",
        "title_zh": "接受",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
    }
    response = client.post(reverse("admin:consent_policydocument_add"), data)
    assert response.status_code == 200
    assert "slug" in response.context["adminform"].form.errors
    data["slug"] = "community-rules"
    assert client.post(reverse("admin:consent_policydocument_add"), data).status_code == 302
    assert PolicyDocument.objects.filter(slug="community-rules").exists()


# --- Version order ------------------------------------------------------------------------------


def test_current_version_is_the_highest_number_already_in_force(doc, dpo):
    now = timezone.now()
    make_version(doc, 1, publish_by=dpo, effective_at=now - 10 * DAY)
    v2 = make_version(doc, 2, publish_by=dpo, effective_at=now - 5 * DAY)
    make_version(doc, 3, publish_by=dpo, effective_at=now + 5 * DAY)  # announced, not in force
    make_version(doc, 4, effective_at=now - DAY)  # a draft
    assert policies.current_version(doc) == v2
    assert policies.current_version(doc, now=now + 6 * DAY).number == 3
    assert [v.number for v in policies.published_versions(doc)] == [3, 2, 1]


# --- Public pages -------------------------------------------------------------------------------


def test_privacy_page_shows_the_current_policy_without_login(client, doc, dpo):
    make_version(doc, 1, publish_by=dpo, effective_at=timezone.now() - 10 * DAY)
    make_version(
        doc,
        2,
        publish_by=dpo,
        body_en="Version two in English.",
        body_zh="第二版中文。",
        summary_en="Clearer wording.",
    )
    page = client.get(reverse("consent:privacy"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Version two in English." in text
    assert "第二版中文" not in text
    assert "Clearer wording." in text
    assert "Version 2" in text and "effective from" in text
    assert reverse("consent:versions", args=[doc.slug]) in text


def test_privacy_page_follows_the_browser_language(client, doc, dpo):
    make_version(doc, 1, publish_by=dpo, body_en="English body.", body_zh="中文正文。")
    page = client.get(reverse("consent:privacy"), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    text = page.content.decode()
    assert "中文正文。" in text
    assert "English body." not in text
    assert "隐私政策" in text  # the document title in Chinese


def test_signed_in_user_sees_their_preferred_language(client, doc, dpo):
    make_version(doc, 1, publish_by=dpo, body_en="English body.", body_zh="中文正文。")
    client.force_login(UserFactory(preferred_language="zh-hans"))
    assert "中文正文。" in client.get(reverse("consent:privacy")).content.decode()


def test_privacy_page_without_a_policy_is_404(client, doc, dpo):
    assert client.get(reverse("consent:privacy")).status_code == 404
    make_version(doc, 1)  # a draft only
    assert client.get(reverse("consent:privacy")).status_code == 404
    make_version(doc, 2, publish_by=dpo, effective_at=timezone.now() + DAY)  # not in force yet
    assert client.get(reverse("consent:privacy")).status_code == 404


def test_any_document_has_its_own_page(client, dpo):
    other = PolicyDocumentFactory(
        slug="user-agreement", kind="user_agreement", title_en="User agreement"
    )
    make_version(other, 1, publish_by=dpo, body_en="Terms of use.")
    page = client.get(reverse("consent:document", args=["user-agreement"]))
    assert page.status_code == 200
    assert "Terms of use." in page.content.decode()
    assert client.get(reverse("consent:document", args=["nothing-here"])).status_code == 404


def test_history_lists_published_versions_only(client, doc, dpo):
    make_version(doc, 1, publish_by=dpo, summary_en="First.")
    make_version(doc, 2, publish_by=dpo, summary_en="Second.")
    make_version(doc, 3, summary_en="Secret draft.")
    page = client.get(reverse("consent:versions", args=[doc.slug]))
    text = page.content.decode()
    assert page.status_code == 200
    assert "First." in text and "Second." in text
    assert "Secret draft." not in text
    assert reverse("consent:diff", args=[doc.slug]) + "?from=1&amp;to=2" in text


def test_old_version_page_says_it_is_no_longer_in_force(client, doc, dpo):
    make_version(doc, 1, publish_by=dpo, body_en="Old text.")
    make_version(doc, 2, publish_by=dpo)
    page = client.get(reverse("consent:version", args=[doc.slug, 1]))
    text = page.content.decode()
    assert "Old text." in text
    assert "no longer in force" in text


def test_draft_and_unknown_versions_are_404(client, doc, dpo):
    make_version(doc, 1, publish_by=dpo)
    make_version(doc, 2)
    assert client.get(reverse("consent:version", args=[doc.slug, 2])).status_code == 404
    assert client.get(reverse("consent:version", args=[doc.slug, 7])).status_code == 404
    assert client.get(reverse("consent:versions", args=["nope"])).status_code == 404


def test_version_page_shows_the_recipients_disclosed_with_it(client, doc, dpo):
    RecipientFactory(name="Cloud Abroad", country="US", purpose_zh="云存储")
    make_version(doc, 1, publish_by=dpo, effective_at=timezone.now())
    text = client.get(reverse("consent:version", args=[doc.slug, 1])).content.decode()
    assert "Cloud Abroad" in text and "outside mainland China" in text
    zh = client.get(
        reverse("consent:version", args=[doc.slug, 1]), HTTP_ACCEPT_LANGUAGE="zh-CN"
    ).content.decode()
    assert "云存储" in zh


# --- Diff ---------------------------------------------------------------------------------------


def test_diff_lines_marks_removed_and_added_lines():
    old = "intro\nkeep 1\nkeep 2\nold clause\nend"
    new = "intro\nkeep 1\nkeep 2\nnew clause\nextra clause\nend"
    lines = policies.diff_lines(old, new)
    assert ("delete", "old clause") in lines
    assert ("insert", "new clause") in lines and ("insert", "extra clause") in lines
    assert ("equal", "keep 1") in lines


def test_diff_leaves_out_long_unchanged_runs():
    common = [f"line {i}" for i in range(40)]
    old = "\n".join([*common, "old end"])
    new = "\n".join([*common, "new end"])
    lines = policies.diff_lines(old, new, context=3)
    assert ("skip", "37") in lines
    assert ("equal", "line 39") in lines and ("equal", "line 2") not in lines


def test_diff_page_shows_changes_in_the_active_language(client, doc, dpo):
    make_version(doc, 1, publish_by=dpo, body_en="A\nold sentence\nC", body_zh="甲\n旧句子\n丙")
    make_version(doc, 2, publish_by=dpo, body_en="A\nnew sentence\nC", body_zh="甲\n新句子\n丙")
    url = reverse("consent:diff", args=[doc.slug])
    text = client.get(url, {"from": 1, "to": 2}).content.decode()
    assert "<del>old sentence</del>" in text and "<ins>new sentence</ins>" in text
    zh = client.get(url, {"from": 1, "to": 2}, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "<del>旧句子</del>" in zh and "<ins>新句子</ins>" in zh


def test_a_reversed_diff_still_shows_the_newer_text_as_added(client, doc, dpo):
    make_version(doc, 1, publish_by=dpo, body_en="A\nold sentence\nC")
    make_version(doc, 2, publish_by=dpo, body_en="A\nnew sentence\nC")
    url = reverse("consent:diff", args=[doc.slug])
    forward = client.get(url, {"from": 1, "to": 2}).content.decode()
    reversed_ = client.get(url, {"from": 2, "to": 1}).content.decode()
    assert "<ins>new sentence</ins>" in reversed_ and "<del>old sentence</del>" in reversed_
    assert forward.count("<ins>") == reversed_.count("<ins>")


def test_the_acceptance_wording_shows_the_date_as_the_page_does(doc, dpo):
    from django.utils import translation

    version = make_version(doc, 1, publish_by=dpo)
    with translation.override("en"):
        wording = policies.acceptance_wording(version)
    assert timezone.localtime(version.effective_at).date().isoformat() not in wording
    with translation.override("zh-hans"):
        assert "年" in policies.acceptance_wording(version)


def test_diff_and_pages_escape_markup_in_the_text(client, doc, dpo):
    make_version(doc, 1, publish_by=dpo, body_en="Safe text.")
    make_version(doc, 2, publish_by=dpo, body_en="Safe text.\n<script>alert('x')</script>")
    diff = client.get(reverse("consent:diff", args=[doc.slug]), {"from": 1, "to": 2})
    text = diff.content.decode()
    assert "<script>alert" not in text
    assert "<ins>&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;</ins>" in text
    page = client.get(reverse("consent:version", args=[doc.slug, 2])).content.decode()
    assert "<script>alert" not in page and "&lt;script&gt;" in page


def test_diff_of_identical_texts_says_so(doc, dpo):
    a = make_version(doc, 1, publish_by=dpo)
    b = make_version(doc, 2, publish_by=dpo)
    assert "same text" in policies.diff(a, b, "en")


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"from": 1},
        {"to": 2},
        {"from": "abc", "to": 2},
        {"from": 1, "to": 99},
        {"from": -1, "to": 2},
        {"from": 3, "to": 2},  # a draft
        {"from": "1e9", "to": "2"},
    ],
)
def test_bad_diff_parameters_give_a_form_error_not_a_crash(client, doc, dpo, params):
    make_version(doc, 1, publish_by=dpo)
    make_version(doc, 2, publish_by=dpo)
    make_version(doc, 3)
    response = client.get(reverse("consent:diff", args=[doc.slug]), params)
    assert response.status_code == 400
    assert response.context["form"].errors
    assert "<form" in response.content.decode()


def test_diff_of_an_unknown_document_is_404(client):
    response = client.get(reverse("consent:diff", args=["missing"]), {"from": 1, "to": 2})
    assert response.status_code == 404


# --- Evidence helper ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "prefix"),
    [
        ("203.0.113.77", "203.0.113.0/24"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.9", "198.51.100.0/24"),
        ("not an address", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_ip_prefix_keeps_only_the_network(address, prefix):
    assert policies.ip_prefix(address) == prefix


def test_evidence_from_request_truncates_the_user_agent(rf):
    request = rf.get("/", HTTP_USER_AGENT="x" * 1000, REMOTE_ADDR="192.0.2.55")
    evidence = policies.evidence_from_request(request, "I accept.")
    assert evidence["ip_prefix"] == "192.0.2.0/24"
    assert len(evidence["user_agent"]) == 300
    assert evidence["wording"] == "I accept."
    assert "192.0.2.55" not in str(evidence)


@pytest.mark.parametrize("model", ["policydocument", "policyversion", "campaign"])
def test_admin_pages_of_policies_and_campaigns_render(client, admin_user, doc, model):
    make_version(doc, 1, publish_by=admin_user)
    make_version(
        doc, 2, publish_by=admin_user, significant=True, significant_categories=["control"]
    )
    make_version(doc, 3)  # a draft
    client.force_login(admin_user)
    changelist = reverse(f"admin:consent_{model}_changelist")
    page = client.get(changelist)
    assert page.status_code == 200 and page.context["cl"].result_count >= 1
    for term in ("test", "123", "privacy"):
        assert client.get(changelist, {"q": term}).status_code == 200
    add = client.get(reverse(f"admin:consent_{model}_add"))
    assert add.status_code == (403 if model == "campaign" else 200)
    for obj in page.context["cl"].result_list:
        change = client.get(reverse(f"admin:consent_{model}_change", args=[obj.pk]))
        assert change.status_code == 200
