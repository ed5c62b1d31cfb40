"""Sign-in by SMS code through the providers' backends (ACC-1): a provider that fails gives the
person a clear message, never a 500, and leaves no usable code behind; with DJANGO_DEBUG false
nothing that is logged, at any level, contains the code."""

import json
import logging

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import PhoneCode

from .sms_standin import StandInAliyun, StandInTencent
from .test_sms_backends import aliyun_settings, tencent_settings

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
FAILED = "We could not send the SMS just now. Please try again in a few minutes."


@pytest.fixture(params=["aliyun", "tencent"])
def provider(request, settings):
    if request.param == "aliyun":
        standin = StandInAliyun("LTAI5tExampleKeyId", "example-access-key-secret").start()
        aliyun_settings(settings, SMS_ALIYUN_ENDPOINT=standin.url)
    else:
        standin = StandInTencent("AKIDexampleSecretId", "example-secret-key").start()
        tencent_settings(settings, SMS_TENCENT_ENDPOINT=standin.url)
    settings.DEBUG = False
    settings.SMS_HTTP_TIMEOUT = 5
    yield standin
    standin.stop()


def code_received(standin) -> str:
    request = standin.requests[-1]
    if standin.vendor == "aliyun":
        return json.loads(request["params"]["TemplateParam"])["code"]
    return request["json"]["TemplateParamSet"][0]


def live_codes(phone):
    return PhoneCode.objects.filter(phone=phone, expires_at__gt=timezone.now())


@pytest.mark.parametrize("mode", ["refuse", "http_error", "slow"])
def test_failing_provider_gives_a_clear_message_and_leaves_no_usable_code(
    client, user, provider, mode, settings
):
    provider.mode = mode
    provider.delay = 1.0
    settings.SMS_HTTP_TIMEOUT = 0.3

    response = client.post(LOGIN, {"phone": str(user.phone), "send": "1"})

    assert response.status_code == 200
    content = response.content.decode()
    assert FAILED in content
    assert not live_codes(user.phone).exists()
    # The attempt counts towards the limits: the provider may have delivered it all the same.
    assert PhoneCode.objects.filter(phone=user.phone).count() == 1
    # Whatever the provider received cannot sign anyone in.
    code = code_received(provider)
    response = client.post(LOGIN, {"phone": str(user.phone), "code": code, "login": "1"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_sign_in_through_a_provider_logs_nothing_containing_the_code(
    client, user, provider, caplog
):
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "accounts", "django"):
        caplog.set_level(logging.DEBUG, logger=name)

    response = client.post(LOGIN, {"phone": str(user.phone), "send": "1"})
    assert FAILED not in response.content.decode()
    assert provider.requests[-1]["signature_ok"]
    code = code_received(provider)
    response = client.post(LOGIN, {"phone": str(user.phone), "code": code, "login": "1"})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    # Logging was on: the HTTP client's own records are there, the code is not.
    assert "HTTP Request: POST" in caplog.text
    assert code not in caplog.text
    for record in caplog.records:
        assert code not in record.getMessage(), record.name
        assert code not in repr(record.args), record.name


def test_failed_sign_in_attempt_logs_nothing_containing_the_code(client, user, provider, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "accounts", "django"):
        caplog.set_level(logging.DEBUG, logger=name)
    provider.mode = "refuse"

    client.post(LOGIN, {"phone": str(user.phone), "send": "1"})

    code = code_received(provider)
    assert "SMS not delivered" in caplog.text
    assert code not in caplog.text
    for record in caplog.records:
        assert code not in record.getMessage(), record.name
        assert code not in repr(record.args), record.name
