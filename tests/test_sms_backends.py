"""SMS backends (ACC-1): the development backend never runs outside debug mode, the system check
refuses a production set-up that would log codes or lacks a provider's settings, and both
providers' request signatures match the worked examples of the providers' documentation."""

import hashlib
import logging
import re

import pytest

from accounts import sms
from accounts.sms import (
    ConsoleFileSmsBackend,
    LocmemSmsBackend,
    SmsDeliveryError,
    check_sms_backend,
    send_sms,
)
from accounts.sms_providers import (
    aliyun_percent_encode,
    aliyun_phone_number,
    aliyun_signature,
    aliyun_string_to_sign,
    tc3_authorization,
    tc3_canonical_request,
    tc3_string_to_sign,
)

from .sms_standin import aliyun_expected_signature, tencent_expected_authorization
from .test_deploy_check import _manage, production_env

ALIYUN = "accounts.sms_providers.AliyunSmsBackend"
TENCENT = "accounts.sms_providers.TencentSmsBackend"
CONSOLE = "accounts.sms.ConsoleFileSmsBackend"
LOCMEM = "accounts.sms.LocmemSmsBackend"
MESSAGE = "Your verification code is 482913. It expires in 5 minutes."
PARAMS = {"code": "482913", "minutes": "5"}


def aliyun_settings(settings, **overrides):
    values = {
        "SMS_BACKEND": ALIYUN,
        "SMS_ALIYUN_ACCESS_KEY_ID": "LTAI5tExampleKeyId",
        "SMS_ALIYUN_ACCESS_KEY_SECRET": "example-access-key-secret",
        "SMS_ALIYUN_SIGN_NAME": "隐私门户",
        "SMS_ALIYUN_TEMPLATE_CODE": "SMS_154950909",
        "SMS_ALIYUN_TEMPLATE_PARAMS": ["code"],
        "SMS_ALIYUN_NOTICE_TEMPLATE_CODE": "SMS_987654321",
        "SMS_ALIYUN_NOTICE_TEMPLATE_PARAMS": ["subject", "link"],
        "SMS_ALIYUN_ENDPOINT": "https://dysmsapi.aliyuncs.com/",
        **overrides,
    }
    for name, value in values.items():
        setattr(settings, name, value)


def tencent_settings(settings, **overrides):
    values = {
        "SMS_BACKEND": TENCENT,
        "SMS_TENCENT_SECRET_ID": "AKIDexampleSecretId",
        "SMS_TENCENT_SECRET_KEY": "example-secret-key",
        "SMS_TENCENT_SDK_APP_ID": "1400006666",
        "SMS_TENCENT_SIGN_NAME": "隐私门户",
        "SMS_TENCENT_TEMPLATE_ID": "449739",
        "SMS_TENCENT_TEMPLATE_PARAMS": ["code", "minutes"],
        "SMS_TENCENT_NOTICE_TEMPLATE_ID": "7654321",
        "SMS_TENCENT_NOTICE_TEMPLATE_PARAMS": ["subject", "link"],
        "SMS_TENCENT_REGION": "ap-guangzhou",
        "SMS_TENCENT_ENDPOINT": "https://sms.tencentcloudapi.com/",
        **overrides,
    }
    for name, value in values.items():
        setattr(settings, name, value)


def check_ids(settings):
    return sorted(error.id for error in check_sms_backend())


def check_messages(settings):
    return " ".join(error.msg for error in check_sms_backend())


# --- The system check --------------------------------------------------------------------------


def test_check_refuses_the_console_file_backend_outside_debug_mode(settings):
    settings.DEBUG = False
    settings.SMS_BACKEND = CONSOLE
    assert check_ids(settings) == ["accounts.E102"]
    assert "development only" in check_messages(settings)


def test_check_accepts_the_console_file_backend_in_debug_mode(settings):
    settings.DEBUG = True
    settings.SMS_BACKEND = CONSOLE
    assert check_ids(settings) == []


def test_check_accepts_the_test_backend_outside_debug_mode(settings):
    settings.DEBUG = False
    settings.SMS_BACKEND = LOCMEM
    assert check_ids(settings) == []


@pytest.mark.parametrize("configure", [aliyun_settings, tencent_settings])
def test_check_accepts_a_provider_with_complete_settings(settings, configure):
    settings.DEBUG = False
    configure(settings)
    assert check_ids(settings) == []


@pytest.mark.parametrize(
    "configure, missing",
    [
        (aliyun_settings, "SMS_ALIYUN_ACCESS_KEY_ID"),
        (aliyun_settings, "SMS_ALIYUN_ACCESS_KEY_SECRET"),
        (aliyun_settings, "SMS_ALIYUN_SIGN_NAME"),
        (aliyun_settings, "SMS_ALIYUN_TEMPLATE_CODE"),
        (tencent_settings, "SMS_TENCENT_SECRET_ID"),
        (tencent_settings, "SMS_TENCENT_SECRET_KEY"),
        (tencent_settings, "SMS_TENCENT_SDK_APP_ID"),
        (tencent_settings, "SMS_TENCENT_SIGN_NAME"),
        (tencent_settings, "SMS_TENCENT_TEMPLATE_ID"),
        (tencent_settings, "SMS_TENCENT_REGION"),
    ],
)
def test_check_names_a_missing_provider_setting(settings, configure, missing):
    settings.DEBUG = False
    configure(settings, **{missing: "  "})
    assert check_ids(settings) == ["accounts.E103"]
    assert missing in check_messages(settings)


@pytest.mark.parametrize(
    "configure, name",
    [(aliyun_settings, "SMS_ALIYUN_ENDPOINT"), (tencent_settings, "SMS_TENCENT_ENDPOINT")],
)
@pytest.mark.parametrize(
    "endpoint", ["http://dysmsapi.aliyuncs.com/", "dysmsapi", "", "https://[::1", "ftp://x/"]
)
def test_check_refuses_an_endpoint_without_https_in_production(settings, configure, name, endpoint):
    settings.DEBUG = False
    configure(settings, **{name: endpoint})
    assert check_ids(settings) == ["accounts.E103"]
    assert name in check_messages(settings)


@pytest.mark.parametrize(
    "configure, name",
    [
        (aliyun_settings, "SMS_ALIYUN_TEMPLATE_PARAMS"),
        (tencent_settings, "SMS_TENCENT_TEMPLATE_PARAMS"),
    ],
)
@pytest.mark.parametrize("names", [[], ["minutes"], ["code", "phone"], ["code", "code"]])
def test_check_refuses_template_parameters_it_cannot_fill(settings, configure, name, names):
    settings.DEBUG = False
    configure(settings, **{name: names})
    assert check_ids(settings) == ["accounts.E103"]
    assert name in check_messages(settings)


def test_check_refuses_a_backend_that_cannot_be_imported(settings):
    settings.SMS_BACKEND = "accounts.sms.NoSuchBackend"
    assert check_ids(settings) == ["accounts.E101"]


def test_production_without_sms_backend_stops_start_up():
    env = production_env()
    del env["SMS_BACKEND"]
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "SMS_BACKEND" in result.stderr


def test_production_with_the_console_file_backend_fails_the_check():
    result = _manage("check", env=production_env(SMS_BACKEND=CONSOLE))
    assert result.returncode != 0
    assert "accounts.E102" in result.stderr


def test_provider_secret_can_come_from_a_file(tmp_path):
    secret_file = tmp_path / "aliyun-secret"
    secret_file.write_text("read-from-a-mounted-secret-file\n")
    env = production_env(SMS_ALIYUN_ACCESS_KEY_SECRET_FILE=str(secret_file))
    del env["SMS_ALIYUN_ACCESS_KEY_SECRET"]
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    # Without the file the same set-up is incomplete: the file is what filled it in.
    del env["SMS_ALIYUN_ACCESS_KEY_SECRET_FILE"]
    result = _manage("check", env=env)
    assert "SMS_ALIYUN_ACCESS_KEY_SECRET" in result.stderr


# --- Development and test backends -------------------------------------------------------------


def test_console_file_backend_writes_the_message_in_debug_mode(settings, tmp_path):
    settings.DEBUG = True
    settings.SMS_BACKEND = CONSOLE
    settings.SMS_FILE_PATH = tmp_path / "sms" / "outbox.log"
    send_sms("+8613900000001", MESSAGE, PARAMS)
    line = settings.SMS_FILE_PATH.read_text(encoding="utf-8")
    assert "+8613900000001\t" + MESSAGE in line


def test_console_file_backend_refuses_to_send_or_log_outside_debug_mode(settings, tmp_path, caplog):
    settings.DEBUG = False
    settings.SMS_BACKEND = CONSOLE
    settings.SMS_FILE_PATH = tmp_path / "outbox.log"
    caplog.set_level(logging.DEBUG)

    with pytest.raises(SmsDeliveryError) as raised:
        send_sms("+8613900000001", MESSAGE, PARAMS)

    assert "482913" not in str(raised.value)
    assert not settings.SMS_FILE_PATH.exists()
    assert "ConsoleFileSmsBackend is for development only" in caplog.text
    assert "482913" not in caplog.text
    assert "+8613900000001" not in caplog.text


def test_locmem_backend_keeps_messages_in_the_outbox_and_logs_nothing(settings, caplog):
    settings.SMS_BACKEND = LOCMEM
    caplog.set_level(logging.DEBUG)
    send_sms("+8613900000001", MESSAGE, PARAMS)
    assert sms.outbox == [("+8613900000001", MESSAGE)]
    assert caplog.records == []


def test_only_the_console_file_backend_is_development_only():
    assert ConsoleFileSmsBackend.development_only
    assert not LocmemSmsBackend.development_only


# --- Alibaba Cloud: the RPC signature against the documentation's examples ------------------------

# Alibaba Cloud SMS, "HTTP protocol and signature" (Dysmsapi SendSms, GET): the documented
# request, AccessKeySecret "testSecret", its string to sign and its signature.
ALIYUN_SMS_DOC_PARAMS = {
    "AccessKeyId": "testId",
    "Action": "SendSms",
    "Format": "XML",
    "OutId": "123",
    "PhoneNumbers": "15300000001",
    "RegionId": "cn-hangzhou",
    "SignName": "阿里云短信测试专用",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
    "SignatureVersion": "1.0",
    "TemplateCode": "SMS_71390007",
    "TemplateParam": '{"customer":"test"}',
    "Timestamp": "2017-07-12T02:42:19Z",
    "Version": "2017-05-25",
}
ALIYUN_SMS_DOC_STRING_TO_SIGN = (
    "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%26OutId%3D123"
    "%26PhoneNumbers%3D15300000001%26RegionId%3Dcn-hangzhou%26SignName%3D%25E9%2598%25BF"
    "%25E9%2587%258C%25E4%25BA%2591%25E7%259F%25AD%25E4%25BF%25A1%25E6%25B5%258B%25E8"
    "%25AF%2595%25E4%25B8%2593%25E7%2594%25A8%26SignatureMethod%3DHMAC-SHA1"
    "%26SignatureNonce%3D45e25e9b-0a6f-4070-8c85-2956eda1b466%26SignatureVersion%3D1.0"
    "%26TemplateCode%3DSMS_71390007%26TemplateParam%3D%257B%2522customer%2522%253A%2522test"
    "%2522%257D%26Timestamp%3D2017-07-12T02%253A42%253A19Z%26Version%3D2017-05-25"
)


def test_aliyun_signature_matches_the_sms_documentation_example():
    params = dict(ALIYUN_SMS_DOC_PARAMS)
    assert aliyun_string_to_sign("GET", params) == ALIYUN_SMS_DOC_STRING_TO_SIGN
    assert aliyun_signature("GET", params, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_aliyun_signature_matches_the_rpc_signature_documentation_example():
    # "RPC API signature" (ECS DescribeRegions), AccessKeySecret "testsecret".
    params = {
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "Format": "XML",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0",
        "Timestamp": "2016-02-23T12:46:24Z",
        "Version": "2014-05-26",
    }
    assert aliyun_signature("GET", params, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def test_aliyun_signature_ignores_a_signature_parameter_already_present():
    params = {**ALIYUN_SMS_DOC_PARAMS, "Signature": "stale"}
    assert aliyun_signature("GET", params, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_aliyun_signature_agrees_with_the_stand_in_implementation_for_post():
    params = {**ALIYUN_SMS_DOC_PARAMS, "TemplateParam": '{"code":"482913"}', "SignName": "a *~"}
    expected, string_to_sign = aliyun_expected_signature("POST", params, "testSecret")
    assert aliyun_string_to_sign("POST", params) == string_to_sign
    assert aliyun_signature("POST", params, "testSecret") == expected


@pytest.mark.parametrize(
    "raw, encoded",
    [
        ("a b", "a%20b"),
        ("*", "%2A"),
        ("~-_.", "~-_."),
        ("/=&+:", "%2F%3D%26%2B%3A"),
        ("派", "%E6%B4%BE"),
    ],
)
def test_aliyun_percent_encoding_follows_the_signature_rules(raw, encoded):
    assert aliyun_percent_encode(raw) == encoded


@pytest.mark.parametrize(
    "phone, expected",
    [("+8613900000001", "13900000001"), ("+85291234567", "85291234567")],
)
def test_aliyun_phone_numbers_have_no_plus(phone, expected):
    assert aliyun_phone_number(phone) == expected


# --- Tencent Cloud: signature v3 against the documentation's example -----------------------------

# "Signature v3": CVM DescribeInstances, POST, timestamp 1551113065, the documentation's
# SecretId and SecretKey (printed with their asterisks), signed headers content-type;host.
TENCENT_DOC_SECRET_ID = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******"
TENCENT_DOC_SECRET_KEY = "Gu5t9xGARNpq86cd98joQYCN3*******"
TENCENT_DOC_PAYLOAD = (
    b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
)
TENCENT_DOC_HEADERS = {
    "Content-Type": "application/json; charset=utf-8",
    "Host": "cvm.tencentcloudapi.com",
}


def test_tencent_canonical_request_matches_the_documentation_example():
    canonical, signed = tc3_canonical_request(TENCENT_DOC_HEADERS, TENCENT_DOC_PAYLOAD)
    assert signed == "content-type;host"
    assert canonical == (
        "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n"
        "\ncontent-type;host\n"
        "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    )
    assert tc3_string_to_sign(1551113065, "cvm", canonical) == (
        "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n"
        "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
    )


def test_tencent_authorization_matches_the_documentation_example():
    authorization = tc3_authorization(
        secret_id=TENCENT_DOC_SECRET_ID,
        secret_key=TENCENT_DOC_SECRET_KEY,
        service="cvm",
        timestamp=1551113065,
        headers=TENCENT_DOC_HEADERS,
        payload=TENCENT_DOC_PAYLOAD,
    )
    assert authorization == (
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/2019-02-25/cvm/"
        "tc3_request, SignedHeaders=content-type;host, "
        "Signature=2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
    )


def test_tencent_authorization_signs_the_action_header_lower_cased():
    """The SMS requests also sign X-TC-Action (as the current documentation does); the value is
    lower-cased in the canonical headers, and the stand-in's own implementation agrees."""
    headers = {**TENCENT_DOC_HEADERS, "Host": "sms.tencentcloudapi.com", "X-TC-Action": "SendSms"}
    canonical, signed = tc3_canonical_request(headers, b"{}")
    assert signed == "content-type;host;x-tc-action"
    assert "\nx-tc-action:sendsms\n" in canonical
    authorization = tc3_authorization(
        secret_id="AKIDexample",
        secret_key="secret",
        service="sms",
        timestamp=1700000000,
        headers=headers,
        payload=b"{}",
    )
    received = {**{k.lower(): v for k, v in headers.items()}, "X-TC-Timestamp": "1700000000"}
    assert authorization == tencent_expected_authorization(
        received, b"{}", "AKIDexample", "secret", ["content-type", "host", "x-tc-action"]
    )
    assert hashlib.sha256(b"{}").hexdigest() in canonical


def test_every_sms_setting_is_documented_in_env_example(settings):
    source = (settings.BASE_DIR / "privacyportal" / "settings.py").read_text(encoding="utf-8")
    documented = (settings.BASE_DIR / ".env.example").read_text(encoding="utf-8")
    names = set(re.findall(r'env(?:_secret|\.\w+)\(\s*"(SMS_[A-Z_]+)"', source))
    assert {"SMS_BACKEND", "SMS_ALIYUN_ACCESS_KEY_SECRET", "SMS_TENCENT_SECRET_KEY"} <= names
    missing = sorted(name for name in names if f"# {name}=" not in documented)
    assert missing == []


@pytest.mark.parametrize(
    "endpoint", ["http://127.0.0.1:8443/", "http://localhost/", "http://[::1]/"]
)
def test_check_accepts_plain_http_to_this_machine(settings, endpoint):
    settings.DEBUG = False
    aliyun_settings(settings, SMS_ALIYUN_ENDPOINT=endpoint)
    assert check_ids(settings) == []
