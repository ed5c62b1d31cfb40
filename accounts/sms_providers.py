"""SMS providers' backends: Alibaba Cloud SMS (Dysmsapi) and Tencent Cloud SMS (API 3.0) (ACC-1).

Plain httpx with each provider's documented request signing; the providers' SDKs need the
``requests`` library, which the project's ``requests`` app shadows. Both providers send a
template registered with them, not free text: the settings name the template and which of the
message's values (``code``, ``minutes``) fill its parameters, in order.

What never leaves this module: the code and the message. The code travels only in a POST body
(httpx logs URLs, never bodies), and errors repeat only the provider's error code and request id,
never its error text, which can quote the signed request and with it the code.
"""

import base64
import hashlib
import hmac
import ipaddress
import json
import re
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import quote

import httpx
from django.conf import settings

from .sms import BaseSmsBackend, SmsDeliveryError

#: The values of a message a template parameter can name.
TEMPLATE_VALUES = ("code", "minutes")
#: ... and of a notice (notifications outbox: ``params["template"] == "notice"``).
NOTICE_VALUES = ("subject", "link")
#: Providers answer with a few hundred bytes; anything much larger is not their answer.
MAX_ANSWER_BYTES = 64 * 1024
_IDENTIFIER = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def _identifier(value) -> str:
    """A provider's error code or request id, repeated only if it looks like one."""
    value = str(value) if value is not None else ""
    return value if _IDENTIFIER.fullmatch(value) else "-"


def _template_values(provider: str, names: list[str], params: dict | None) -> list[str]:
    if not params:
        raise SmsDeliveryError(f"{provider} sends only templated messages (verification codes)")
    missing = [name for name in names if name not in params]
    if missing:
        raise SmsDeliveryError(f"{provider} template needs values the message lacks: {missing}")
    return [str(params[name]) for name in names]


def _template(provider: str, params: dict | None, *, code, notice) -> tuple[str, list[str]]:
    """(template id, its parameter names) for this message: the verification-code template,
    or the notice template for a notice from the outbox."""
    setting, names_setting = notice if (params or {}).get("template") == "notice" else code
    template = str(getattr(settings, setting, "") or "").strip()
    if not template:
        raise SmsDeliveryError(f"{provider} has no template for this message: set {setting}")
    return template, list(getattr(settings, names_setting, []) or [])


def notice_template_warnings(backend: str, setting: str, names_setting: str) -> list[str]:
    """Why notices cannot go by SMS through this backend (empty: they can)."""
    problems = []
    if not str(getattr(settings, setting, "") or "").strip():
        problems.append(
            f"{setting} is not set: people without an e-mail address get no SMS notices "
            f"through {backend} (they still find the messages in the account center)."
        )
    names = list(getattr(settings, names_setting, []) or [])
    if any(name not in NOTICE_VALUES for name in names) or len(set(names)) != len(names):
        problems.append(
            f"{names_setting} must list the notice template's parameters in order, each one of "
            f"{', '.join(NOTICE_VALUES)}, none twice (got {names})."
        )
    return problems


def _is_loopback(host: str) -> bool:
    """A local stand-in or an egress proxy on this machine: plain http never leaves it."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _setting_errors(backend: str, required: list[str], endpoint_setting: str, params_setting: str):
    errors = [
        f"{name} is not set; SMS_BACKEND {backend} needs it."
        for name in required
        if not str(getattr(settings, name, "") or "").strip()
    ]
    try:
        endpoint = httpx.URL(getattr(settings, endpoint_setting, "") or "")
    except httpx.InvalidURL:
        endpoint = httpx.URL("")
    if not endpoint.host or not (
        endpoint.scheme == "https"
        or (endpoint.scheme == "http" and (settings.DEBUG or _is_loopback(endpoint.host)))
    ):
        errors.append(
            f"{endpoint_setting} must be an https URL (plain http only to this machine, or in "
            "debug mode): SMS codes and the request signature must not cross a network in "
            "plain text."
        )
    names = list(getattr(settings, params_setting, []) or [])
    unknown = [name for name in names if name not in TEMPLATE_VALUES]
    if unknown or "code" not in names or len(set(names)) != len(names):
        errors.append(
            f"{params_setting} must list the template's parameters in order, each one of "
            f"{', '.join(TEMPLATE_VALUES)}, including code, none twice (got {names})."
        )
    return errors


def _post(provider: str, url: str, *, content: bytes, headers: dict[str, str]):
    """POST and return (HTTP status, the JSON object answered, or {})."""
    timeout = settings.SMS_HTTP_TIMEOUT
    raw = b""
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=False) as client,
            client.stream("POST", url, content=content, headers=headers) as answer,
        ):
            for chunk in answer.iter_bytes():
                raw += chunk
                if len(raw) > MAX_ANSWER_BYTES:
                    raise SmsDeliveryError(f"{provider} answered with an oversized body")
            status = answer.status_code
    except httpx.TimeoutException:
        raise SmsDeliveryError(f"{provider} did not answer within {timeout} seconds") from None
    except httpx.HTTPError as exc:
        raise SmsDeliveryError(f"{provider} could not be reached ({type(exc).__name__})") from None
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    return status, data if isinstance(data, dict) else {}


# --- Alibaba Cloud: RPC-style API, signature version 1.0 (HMAC-SHA1) ---------------------------


def aliyun_percent_encode(value) -> str:
    """Percent-encoding as the RPC signature defines it: UTF-8, everything but A-Z a-z 0-9
    - _ . ~ encoded, so a space is %20, * is %2A and ~ stays ~."""
    return quote(str(value), safe="-_.~")


def aliyun_canonical_query(params: dict) -> str:
    """The parameters but Signature, sorted by name, encoded, joined with &."""
    return "&".join(
        f"{aliyun_percent_encode(name)}={aliyun_percent_encode(params[name])}"
        for name in sorted(params)
        if name != "Signature"
    )


def aliyun_string_to_sign(method: str, params: dict) -> str:
    enc = aliyun_percent_encode
    return f"{method}&{enc('/')}&{enc(aliyun_canonical_query(params))}"


def aliyun_signature(method: str, params: dict, access_key_secret: str) -> str:
    """Base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign))."""
    digest = hmac.new(
        f"{access_key_secret}&".encode(),
        aliyun_string_to_sign(method, params).encode(),
        hashlib.sha1,
    ).digest()
    return base64.b64encode(digest).decode()


def aliyun_phone_number(phone: str) -> str:
    """Mainland numbers without +86; others as country code and number, without + (the
    format Dysmsapi asks for)."""
    phone = str(phone)
    if phone.startswith("+86"):
        return phone[3:]
    return phone.lstrip("+")


class AliyunSmsBackend(BaseSmsBackend):
    """Alibaba Cloud SMS: Dysmsapi ``SendSms`` (version 2017-05-25), signed by AccessKey."""

    provider = "Alibaba Cloud SMS"
    action, version = "SendSms", "2017-05-25"

    @classmethod
    def configuration_warnings(cls):
        return notice_template_warnings(
            "accounts.sms_providers.AliyunSmsBackend",
            "SMS_ALIYUN_NOTICE_TEMPLATE_CODE",
            "SMS_ALIYUN_NOTICE_TEMPLATE_PARAMS",
        )

    @classmethod
    def configuration_errors(cls):
        return _setting_errors(
            "accounts.sms_providers.AliyunSmsBackend",
            [
                "SMS_ALIYUN_ACCESS_KEY_ID",
                "SMS_ALIYUN_ACCESS_KEY_SECRET",
                "SMS_ALIYUN_SIGN_NAME",
                "SMS_ALIYUN_TEMPLATE_CODE",
            ],
            "SMS_ALIYUN_ENDPOINT",
            "SMS_ALIYUN_TEMPLATE_PARAMS",
        )

    def request_parameters(self, phone: str, params: dict | None) -> dict[str, str]:
        template, names = _template(
            self.provider,
            params,
            code=("SMS_ALIYUN_TEMPLATE_CODE", "SMS_ALIYUN_TEMPLATE_PARAMS"),
            notice=("SMS_ALIYUN_NOTICE_TEMPLATE_CODE", "SMS_ALIYUN_NOTICE_TEMPLATE_PARAMS"),
        )
        values = _template_values(self.provider, names, params)
        parameters = {
            "AccessKeyId": settings.SMS_ALIYUN_ACCESS_KEY_ID,
            "Action": self.action,
            "Format": "JSON",
            "PhoneNumbers": aliyun_phone_number(phone),
            "SignName": settings.SMS_ALIYUN_SIGN_NAME,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "TemplateCode": template,
            "TemplateParam": json.dumps(
                dict(zip(names, values, strict=True)), ensure_ascii=False, separators=(",", ":")
            ),
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": self.version,
        }
        parameters["Signature"] = aliyun_signature(
            "POST", parameters, settings.SMS_ALIYUN_ACCESS_KEY_SECRET
        )
        return parameters

    def send(self, phone, message, params=None):
        problems = self.configuration_errors()
        if problems:
            raise SmsDeliveryError(f"{self.provider} is not configured: {' '.join(problems)}")
        parameters = self.request_parameters(phone, params)
        # In the body, not the query string: URLs end up in logs, and this one holds the code.
        body = "&".join(
            f"{aliyun_percent_encode(k)}={aliyun_percent_encode(v)}" for k, v in parameters.items()
        )
        status, answer = _post(
            self.provider,
            settings.SMS_ALIYUN_ENDPOINT,
            content=body.encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
        code = answer.get("Code")
        if 200 <= status < 300 and code == "OK":
            return
        raise SmsDeliveryError(
            f"{self.provider} refused the message: HTTP {status}, code {_identifier(code)}, "
            f"request {_identifier(answer.get('RequestId'))}"
        )


# --- Tencent Cloud: API 3.0, signature v3 (TC3-HMAC-SHA256) --------------------------------------


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tc3_canonical_request(
    headers: dict[str, str], payload: bytes, method: str = "POST", uri: str = "/", query: str = ""
) -> tuple[str, str]:
    """The canonical request and its list of signed headers. Every header given is signed;
    names and values lower-cased and trimmed, sorted by name."""
    canonical = sorted(
        (name.strip().lower(), value.strip().lower()) for name, value in headers.items()
    )
    canonical_headers = "".join(f"{name}:{value}\n" for name, value in canonical)
    signed_headers = ";".join(name for name, _ in canonical)
    request = "\n".join(
        [method, uri, query, canonical_headers, signed_headers, _sha256_hex(payload)]
    )
    return request, signed_headers


def tc3_date(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def tc3_string_to_sign(timestamp: int, service: str, canonical_request: str) -> str:
    scope = f"{tc3_date(timestamp)}/{service}/tc3_request"
    return "\n".join(
        ["TC3-HMAC-SHA256", str(timestamp), scope, _sha256_hex(canonical_request.encode())]
    )


def tc3_signing_key(secret_key: str, date: str, service: str) -> bytes:
    """HMAC-SHA256 chain: "TC3" + SecretKey -> date -> service -> "tc3_request"."""
    key = f"TC3{secret_key}".encode()
    for part in (date, service, "tc3_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def tc3_authorization(
    *,
    secret_id: str,
    secret_key: str,
    service: str,
    timestamp: int,
    headers: dict[str, str],
    payload: bytes,
    method: str = "POST",
    uri: str = "/",
    query: str = "",
) -> str:
    """The Authorization header of a request with these (signed) headers and payload."""
    canonical_request, signed_headers = tc3_canonical_request(headers, payload, method, uri, query)
    string_to_sign = tc3_string_to_sign(timestamp, service, canonical_request)
    key = tc3_signing_key(secret_key, tc3_date(timestamp), service)
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    scope = f"{tc3_date(timestamp)}/{service}/tc3_request"
    return (
        f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )


class TencentSmsBackend(BaseSmsBackend):
    """Tencent Cloud SMS: ``SendSms`` of API 3.0 (version 2021-01-11), signature v3."""

    provider = "Tencent Cloud SMS"
    service, action, version = "sms", "SendSms", "2021-01-11"

    @classmethod
    def configuration_warnings(cls):
        return notice_template_warnings(
            "accounts.sms_providers.TencentSmsBackend",
            "SMS_TENCENT_NOTICE_TEMPLATE_ID",
            "SMS_TENCENT_NOTICE_TEMPLATE_PARAMS",
        )

    @classmethod
    def configuration_errors(cls):
        return _setting_errors(
            "accounts.sms_providers.TencentSmsBackend",
            [
                "SMS_TENCENT_SECRET_ID",
                "SMS_TENCENT_SECRET_KEY",
                "SMS_TENCENT_SDK_APP_ID",
                "SMS_TENCENT_SIGN_NAME",
                "SMS_TENCENT_TEMPLATE_ID",
                "SMS_TENCENT_REGION",
            ],
            "SMS_TENCENT_ENDPOINT",
            "SMS_TENCENT_TEMPLATE_PARAMS",
        )

    def request(self, phone: str, params: dict | None, timestamp: int):
        """(headers, body) of the signed SendSms request."""
        template, names = _template(
            self.provider,
            params,
            code=("SMS_TENCENT_TEMPLATE_ID", "SMS_TENCENT_TEMPLATE_PARAMS"),
            notice=("SMS_TENCENT_NOTICE_TEMPLATE_ID", "SMS_TENCENT_NOTICE_TEMPLATE_PARAMS"),
        )
        values = _template_values(self.provider, names, params)
        body = json.dumps(
            {
                "PhoneNumberSet": [str(phone)],  # E.164, as stored
                "SmsSdkAppId": settings.SMS_TENCENT_SDK_APP_ID,
                "SignName": settings.SMS_TENCENT_SIGN_NAME,
                "TemplateId": template,
                "TemplateParamSet": values,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        signed = {
            "Content-Type": "application/json; charset=utf-8",
            "Host": httpx.URL(settings.SMS_TENCENT_ENDPOINT).netloc.decode("ascii"),
            "X-TC-Action": self.action,
        }
        authorization = tc3_authorization(
            secret_id=settings.SMS_TENCENT_SECRET_ID,
            secret_key=settings.SMS_TENCENT_SECRET_KEY,
            service=self.service,
            timestamp=timestamp,
            headers=signed,
            payload=body,
        )
        headers = {
            **signed,
            "Authorization": authorization,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Version": self.version,
            "X-TC-Region": settings.SMS_TENCENT_REGION,
        }
        return headers, body

    def send(self, phone, message, params=None):
        problems = self.configuration_errors()
        if problems:
            raise SmsDeliveryError(f"{self.provider} is not configured: {' '.join(problems)}")
        headers, body = self.request(phone, params, int(time.time()))
        status, answer = _post(
            self.provider, settings.SMS_TENCENT_ENDPOINT, content=body, headers=headers
        )
        response = answer.get("Response")
        if not isinstance(response, dict):
            response = {}
        request_id = _identifier(response.get("RequestId"))
        error = response.get("Error")
        if not 200 <= status < 300 or error is not None:
            code = error.get("Code") if isinstance(error, dict) else None
            raise SmsDeliveryError(
                f"{self.provider} refused the request: HTTP {status}, code "
                f"{_identifier(code)}, request {request_id}"
            )
        statuses = response.get("SendStatusSet")
        if not isinstance(statuses, list) or not statuses:
            raise SmsDeliveryError(
                f"{self.provider} answered without a send status, request {request_id}"
            )
        for entry in statuses:
            code = entry.get("Code") if isinstance(entry, dict) else None
            if code != "Ok":
                raise SmsDeliveryError(
                    f"{self.provider} did not send the message: code {_identifier(code)}, "
                    f"request {request_id}"
                )
