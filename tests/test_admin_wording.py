"""What the admin shows (issue 13): no Save on a closed request, no empty default ground for a
refusal, "Duplicate?" in plain words, purposes and policy versions by name."""

import pytest
from django.urls import reverse
from django.utils import translation

from requests import workflow

from .factories import (
    DataSubjectRequestFactory,
    DpoFactory,
    PolicyVersionFactory,
    PurposeFactory,
    VerificationFactory,
)

pytestmark = pytest.mark.django_db


def test_a_closed_request_offers_no_save(client):
    dpo = DpoFactory()
    client.force_login(dpo)
    req = DataSubjectRequestFactory()
    url = reverse("admin:requests_datasubjectrequest_change", args=[req.pk])
    assert 'name="_save"' in client.get(url).content.decode()  # open: editable
    workflow.start(req, dpo)
    workflow.complete(req, dpo, "Here is everything we hold.")
    page = client.get(url).content.decode()
    assert 'name="_save"' not in page and 'name="_continue"' not in page


def test_the_refusal_form_has_no_preselected_or_empty_ground(client):
    client.force_login(DpoFactory())
    req = DataSubjectRequestFactory()
    url = reverse("admin:requests_datasubjectrequest_transition", args=[req.pk, "refuse"])
    page = client.get(url).content.decode()
    assert "---------" not in page
    assert 'name="ground"' in page and "checked" not in page.split('name="ground"')[1][:200]
    response = client.post(url, {"reason": "No."})
    assert response.status_code == 200
    assert "Choose the ground on which the request is refused." in response.content.decode()
    req.refresh_from_db()
    assert req.is_open


def test_duplicate_is_a_plain_yes_or_no(client):
    client.force_login(DpoFactory())
    VerificationFactory()
    page = client.get(reverse("admin:verification_verification_changelist")).content.decode()
    assert "icon-no.svg" not in page and "icon-yes.svg" not in page
    assert '<td class="field-duplicate_flag">no</td>' in page


def test_purposes_and_policy_versions_are_named_not_coded():
    purpose = PurposeFactory(
        code="cookies-analytics", name_en="Analytics cookies", name_zh="分析类 Cookie"
    )
    version = PolicyVersionFactory()
    with translation.override("en"):
        assert str(purpose) == "Analytics cookies"
        assert str(version).startswith(version.document.title_en)
        assert str(version.number) in str(version)
    with translation.override("zh-hans"):
        assert str(purpose) == "分析类 Cookie"
        assert version.document.slug not in str(version)
