"""The providers' SMS backends (ACC-1) against stand-in servers on 127.0.0.1: each request
arrives with a valid signature and the right parameters; a provider's refusal, an HTTP error,
a bad signature and a timeout all become an SmsDeliveryError that never contains the code."""

import calendar
import json
import logging
import time

import pytest

from accounts.sms import SmsDeliveryError, send_sms
from accounts.sms_providers import AliyunSmsBackend, TencentSmsBackend

from .sms_standin import StandInAliyun, StandInTencent
from .test_sms_backends import aliyun_settings, tencent_settings

PHONE = "+8613900000001"
CODE = "482913"
MESSAGE = f"Your verification code is {CODE}. It expires in 5 minutes."
PARAMS = {"code": CODE, "minutes": "5"}


@pytest.fixture
def aliyun(settings):
    standin = StandInAliyun("LTAI5tExampleKeyId", "example-access-key-secret").start()
    aliyun_settings(settings, SMS_ALIYUN_ENDPOINT=standin.url)
    settings.SMS_HTTP_TIMEOUT = 5
    yield standin
    standin.stop()


@pytest.fixture
def tencent(settings):
    standin = StandInTencent("AKIDexampleSecretId", "example-secret-key").start()
    tencent_settings(settings, SMS_TENCENT_ENDPOINT=standin.url)
    settings.SMS_HTTP_TIMEOUT = 5
    yield standin
    standin.stop()


@pytest.fixture(params=["aliyun", "tencent"])
def provider(request):
    return request.getfixturevalue(request.param)


def assert_no_code(text: str):
    assert CODE not in text
    assert MESSAGE not in text


# --- Alibaba Cloud -----------------------------------------------------------------------------


def test_aliyun_send_reaches_the_provider_signed_with_the_right_parameters(aliyun):
    before = time.time()
    send_sms(PHONE, MESSAGE, PARAMS)

    [request] = aliyun.requests
    assert request["signature_ok"]
    assert request["path"] == "/"
    assert request["headers"]["Content-Type"].startswith("application/x-www-form-urlencoded")
    params = request["params"]
    assert params["Action"] == "SendSms"
    assert params["Version"] == "2017-05-25"
    assert params["Format"] == "JSON"
    assert params["PhoneNumbers"] == "13900000001"
    assert params["SignName"] == "隐私门户"
    assert params["TemplateCode"] == "SMS_154950909"
    assert json.loads(params["TemplateParam"]) == {"code": CODE}
    assert params["SignatureMethod"] == "HMAC-SHA1"
    assert params["SignatureVersion"] == "1.0"
    stamp = calendar.timegm(time.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ"))
    assert before - 2 <= stamp <= time.time() + 1


def test_aliyun_uses_a_fresh_nonce_per_request(aliyun):
    send_sms(PHONE, MESSAGE, PARAMS)
    send_sms(PHONE, MESSAGE, PARAMS)
    nonces = {request["params"]["SignatureNonce"] for request in aliyun.requests}
    assert len(nonces) == 2


def test_aliyun_template_parameters_follow_the_setting(aliyun, settings):
    settings.SMS_ALIYUN_TEMPLATE_PARAMS = ["code", "minutes"]
    send_sms(PHONE, MESSAGE, PARAMS)
    assert json.loads(aliyun.requests[0]["params"]["TemplateParam"]) == PARAMS


def test_aliyun_code_travels_in_the_body_not_the_url(aliyun):
    send_sms(PHONE, MESSAGE, PARAMS)
    assert aliyun.requests[0]["path"] == "/"
    assert CODE in aliyun.requests[0]["body"].decode()


def test_aliyun_refusal_in_a_200_answer_is_a_delivery_error_without_the_code(aliyun):
    aliyun.mode = "refuse"
    with pytest.raises(SmsDeliveryError) as raised:
        send_sms(PHONE, MESSAGE, PARAMS)
    assert "isv.BUSINESS_LIMIT_CONTROL" in str(raised.value)
    assert "F655A8D5-B967-440B-8683-DAD6FF8DE990" in str(raised.value)
    assert_no_code(str(raised.value))


def test_aliyun_signature_error_does_not_repeat_the_string_to_sign(aliyun, settings):
    # The provider's answer quotes the signed string, code included: only its error code is kept.
    settings.SMS_ALIYUN_ACCESS_KEY_SECRET = "a-wrong-secret"
    with pytest.raises(SmsDeliveryError) as raised:
        send_sms(PHONE, MESSAGE, PARAMS)
    assert not aliyun.requests[0]["signature_ok"]
    assert "HTTP 400" in str(raised.value)
    assert "SignatureDoesNotMatch" in str(raised.value)
    assert_no_code(str(raised.value))


# --- Tencent Cloud -----------------------------------------------------------------------------


def test_tencent_send_reaches_the_provider_signed_with_the_right_parameters(tencent):
    send_sms(PHONE, MESSAGE, PARAMS)

    [request] = tencent.requests
    assert request["signature_ok"]
    headers = request["headers"]
    assert headers["X-TC-Action"] == "SendSms"
    assert headers["X-TC-Version"] == "2021-01-11"
    assert headers["X-TC-Region"] == "ap-guangzhou"
    assert abs(int(headers["X-TC-Timestamp"]) - time.time()) < 5
    assert headers["Authorization"].startswith("TC3-HMAC-SHA256 Credential=AKIDexampleSecretId/")
    assert "SignedHeaders=content-type;host;x-tc-action," in headers["Authorization"]
    assert request["json"] == {
        "PhoneNumberSet": [PHONE],
        "SmsSdkAppId": "1400006666",
        "SignName": "隐私门户",
        "TemplateId": "449739",
        "TemplateParamSet": [CODE, "5"],
    }


def test_tencent_region_follows_the_setting(tencent, settings):
    settings.SMS_TENCENT_REGION = "ap-beijing"
    send_sms(PHONE, MESSAGE, PARAMS)
    assert tencent.requests[0]["headers"]["X-TC-Region"] == "ap-beijing"
    assert tencent.requests[0]["signature_ok"]


def test_tencent_error_in_response_is_a_delivery_error_without_the_code(tencent, settings):
    settings.SMS_TENCENT_SECRET_KEY = "a-wrong-key"
    with pytest.raises(SmsDeliveryError) as raised:
        send_sms(PHONE, MESSAGE, PARAMS)
    assert not tencent.requests[0]["signature_ok"]
    assert "AuthFailure.SignatureFailure" in str(raised.value)
    assert "a0aabda6-cf91-4f3e-a81f-9198114a2279" in str(raised.value)
    assert_no_code(str(raised.value))


def test_tencent_failed_send_status_is_a_delivery_error_without_the_code(tencent):
    tencent.mode = "refuse"
    with pytest.raises(SmsDeliveryError) as raised:
        send_sms(PHONE, MESSAGE, PARAMS)
    assert tencent.requests[0]["signature_ok"]
    assert "LimitExceeded.PhoneNumberDailyLimit" in str(raised.value)
    assert_no_code(str(raised.value))


# --- Both ----------------------------------------------------------------------------------------


def test_http_error_is_a_delivery_error(provider):
    provider.mode = "http_error"
    with pytest.raises(SmsDeliveryError) as raised:
        send_sms(PHONE, MESSAGE, PARAMS)
    assert "HTTP 500" in str(raised.value)
    assert_no_code(str(raised.value))


def test_timeout_is_a_delivery_error(provider, settings):
    provider.mode = "slow"
    provider.delay = 2.0
    settings.SMS_HTTP_TIMEOUT = 0.3
    started = time.monotonic()
    with pytest.raises(SmsDeliveryError) as raised:
        send_sms(PHONE, MESSAGE, PARAMS)
    assert time.monotonic() - started < 1.5
    assert "did not answer within 0.3 seconds" in str(raised.value)
    assert_no_code(str(raised.value))


def test_unreachable_provider_is_a_delivery_error(provider):
    provider.stop()  # the endpoint setting still names its address: nothing listens there now
    with pytest.raises(SmsDeliveryError) as raised:
        send_sms(PHONE, MESSAGE, PARAMS)
    assert "could not be reached" in str(raised.value)


def test_incomplete_settings_send_nothing(provider, settings):
    name = "SMS_ALIYUN_SIGN_NAME" if provider.vendor == "aliyun" else "SMS_TENCENT_SIGN_NAME"
    setattr(settings, name, "")
    with pytest.raises(SmsDeliveryError) as raised:
        send_sms(PHONE, MESSAGE, PARAMS)
    assert name in str(raised.value)
    assert provider.requests == []


@pytest.mark.parametrize("backend", [AliyunSmsBackend, TencentSmsBackend])
def test_a_message_without_template_values_is_not_sent(backend, aliyun, tencent):
    with pytest.raises(SmsDeliveryError):
        backend().send(PHONE, "A free text message")
    assert aliyun.requests == [] and tencent.requests == []


def test_failures_are_logged_without_code_phone_or_message(provider, caplog):
    provider.mode = "refuse"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SmsDeliveryError):
        send_sms(PHONE, MESSAGE, PARAMS)
    assert "SMS not delivered" in caplog.text
    assert_no_code(caplog.text)
    assert PHONE not in caplog.text and PHONE[3:] not in caplog.text
