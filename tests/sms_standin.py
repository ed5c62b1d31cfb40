"""Stand-ins for the SMS providers: a real HTTP server on 127.0.0.1, in a thread, that checks
each request's signature with its own implementation of the provider's documented algorithm
(written apart from accounts.sms_providers, on purpose) and answers as the provider does.

``mode`` chooses the answer: "ok", "refuse" (a provider error in a 200 answer), "http_error"
(a 500 with a non-JSON body) or "slow" (answers after ``delay`` seconds). A request with a bad
signature gets the provider's signature error, which, like Alibaba Cloud's, quotes the string
it signed: the code included.
"""

import base64
import hashlib
import hmac
import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

UNRESERVED = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def rfc3986(text: str) -> str:
    return "".join(chr(b) if b in UNRESERVED else f"%{b:02X}" for b in text.encode("utf-8"))


def aliyun_expected_signature(method: str, params: dict, secret: str) -> tuple[str, str]:
    """(signature, string to sign), from the RPC signature document's steps."""
    pairs = sorted((rfc3986(k), rfc3986(v)) for k, v in params.items() if k != "Signature")
    canonical = "&".join(f"{k}={v}" for k, v in pairs)
    string_to_sign = method + "&" + rfc3986("/") + "&" + rfc3986(canonical)
    mac = hmac.new((secret + "&").encode("utf-8"), string_to_sign.encode("utf-8"), "sha1")
    return base64.b64encode(mac.digest()).decode("ascii"), string_to_sign


def tencent_expected_authorization(
    headers, body: bytes, secret_id: str, secret_key: str, signed_headers: list[str]
) -> str:
    """The Authorization header the signature v3 document yields for what was received."""
    timestamp = int(headers["X-TC-Timestamp"])
    day = datetime.fromtimestamp(timestamp, UTC).date().isoformat()
    canonical_headers = "".join(f"{h}:{headers[h].strip().lower()}\n" for h in signed_headers)
    canonical_request = "POST\n/\n\n{}\n{}\n{}".format(
        canonical_headers, ";".join(signed_headers), hashlib.sha256(body).hexdigest()
    )
    string_to_sign = "TC3-HMAC-SHA256\n{}\n{}/sms/tc3_request\n{}".format(
        timestamp, day, hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    )

    def step(key: bytes, message: str) -> bytes:
        return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()

    signing_key = step(step(step(("TC3" + secret_key).encode("utf-8"), day), "sms"), "tc3_request")
    signature = hmac.new(signing_key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    return (
        f"TC3-HMAC-SHA256 Credential={secret_id}/{day}/sms/tc3_request, "
        f"SignedHeaders={';'.join(signed_headers)}, Signature={signature}"
    )


class StandInProvider:
    """Records every request in ``requests`` (with ``signature_ok``) and answers per ``mode``."""

    vendor = ""

    def __init__(self, key_id: str, secret: str):
        self.key_id, self.secret = key_id, secret
        self.mode = "ok"
        self.delay = 2.0
        self.requests: list[dict] = []
        self.stopped = False
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        if self.stopped:
            return
        self.stopped = True
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def answer(self, request: dict) -> tuple[int, bytes]:  # pragma: no cover - per vendor
        raise NotImplementedError

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                request = {"path": self.path, "headers": self.headers, "body": body}
                standin.requests.append(request)
                status, payload = standin.answer(request)  # checks and records it, always
                if standin.mode == "slow":
                    time.sleep(standin.delay)
                if standin.mode == "http_error":
                    status, payload = 500, b"<html>Internal Server Error</html>"
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json;charset=utf-8")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the client gave up waiting (the timeout test)
                    pass

            def log_message(self, format, *args):
                pass

        return Handler


class StandInAliyun(StandInProvider):
    """Dysmsapi: a form-encoded POST to /, answered in JSON (Format=JSON)."""

    vendor = "aliyun"

    def answer(self, request):
        params = dict(parse_qsl(request["body"].decode("utf-8"), keep_blank_values=True))
        request["params"] = params
        expected, string_to_sign = aliyun_expected_signature("POST", params, self.secret)
        request["signature_ok"] = (
            params.get("Signature") == expected
            and params.get("AccessKeyId") == self.key_id
            and params.get("SignatureMethod") == "HMAC-SHA1"
            and params.get("SignatureVersion") == "1.0"
            and bool(params.get("SignatureNonce"))
        )
        request_id = "F655A8D5-B967-440B-8683-DAD6FF8DE990"
        if not request["signature_ok"]:
            return 400, json.dumps(
                {
                    "RequestId": request_id,
                    "HostId": "dysmsapi.aliyuncs.com",
                    "Code": "SignatureDoesNotMatch",
                    "Message": "Specified signature does not match our calculation. "
                    f"server string to sign is:{string_to_sign}",
                }
            ).encode()
        if self.mode == "refuse":
            return 200, json.dumps(
                {
                    "RequestId": request_id,
                    "Code": "isv.BUSINESS_LIMIT_CONTROL",
                    "Message": "触发小时级流控Permits:5 " + params.get("TemplateParam", ""),
                },
                ensure_ascii=False,
            ).encode()
        return 200, json.dumps(
            {"RequestId": request_id, "Code": "OK", "Message": "OK", "BizId": "900619746936^0"}
        ).encode()


class StandInTencent(StandInProvider):
    """SMS API 3.0: a JSON POST to / with the TC3 headers, answered with {"Response": ...}."""

    vendor = "tencent"

    def answer(self, request):
        headers = request["headers"]
        try:
            request["json"] = json.loads(request["body"])
        except ValueError:
            request["json"] = None
        authorization = headers.get("Authorization", "")
        signed = authorization.partition("SignedHeaders=")[2].partition(",")[0].split(";")
        try:
            expected = tencent_expected_authorization(
                headers, request["body"], self.key_id, self.secret, signed
            )
        except (KeyError, ValueError, TypeError):
            expected = None
        fresh = abs(int(headers.get("X-TC-Timestamp") or 0) - time.time()) < 300
        request["signature_ok"] = (
            authorization == expected
            and fresh
            and {"content-type", "host"} <= set(signed)
            and headers.get("X-TC-Action") == "SendSms"
            and headers.get("X-TC-Version") == "2021-01-11"
        )
        request_id = "a0aabda6-cf91-4f3e-a81f-9198114a2279"
        if not request["signature_ok"]:
            return 200, json.dumps(
                {
                    "Response": {
                        "Error": {
                            "Code": "AuthFailure.SignatureFailure",
                            "Message": "The provided credentials could not be validated. "
                            f"Payload: {request['body'].decode('utf-8', 'replace')}",
                        },
                        "RequestId": request_id,
                    }
                }
            ).encode()
        phones = request["json"].get("PhoneNumberSet", [])
        code = "Ok"
        message = "send success"
        if self.mode == "refuse":
            code = "LimitExceeded.PhoneNumberDailyLimit"
            message = f"daily limit reached for {request['json'].get('TemplateParamSet')}"
        statuses = [
            {
                "SerialNo": "5000:1045710669157053657849499619",
                "PhoneNumber": phone,
                "Fee": 1,
                "SessionContext": "",
                "Code": code,
                "Message": message,
                "IsoCode": "CN",
            }
            for phone in phones
        ]
        return 200, json.dumps(
            {"Response": {"SendStatusSet": statuses, "RequestId": request_id}}
        ).encode()
