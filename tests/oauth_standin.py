"""Stand-ins for WeChat's and QQ Connect's token endpoints: a real HTTP server on 127.0.0.1, in
a thread, that answers the documented GET requests as the providers do (written apart from
accounts.oauth, on purpose).

WeChat: ``GET /sns/oauth2/access_token?appid&secret&code&grant_type=authorization_code`` ->
``{"access_token", "openid", ...}`` or ``{"errcode": 40029, "errmsg": "invalid code"}``.
QQ: ``GET /oauth2.0/token?grant_type&client_id&client_secret&code&redirect_uri&fmt=json`` ->
``{"access_token", ...}`` or ``{"error": 100019, ...}``; ``GET /oauth2.0/me?access_token&fmt=json``
-> ``{"client_id", "openid"}``.

``codes`` maps the authorisation codes the stand-in accepts to an openid; ``mode`` chooses
"ok", "http_error" (a 500 page), "garbage" (not JSON) or "slow" (answers after ``delay``).
"""

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


class OAuthStandIn:
    def __init__(self, app_id: str, secret: str):
        self.app_id, self.secret = app_id, secret
        self.codes: dict[str, str] = {}
        self.tokens: dict[str, str] = {}
        self.mode = "ok"
        self.me_client_id = None  # QQ's /me: the app the token was issued to (default: ours)
        self.delay = 2.0
        self.requests: list[dict] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def issue(self, openid: str) -> str:
        """An authorisation code the provider would put in the callback for ``openid``."""
        code = secrets.token_hex(8)
        self.codes[code] = openid
        return code

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def answer(self, path: str, params: dict) -> dict:
        if path == "/sns/oauth2/access_token":  # WeChat
            ok = (
                params.get("appid") == self.app_id
                and params.get("secret") == self.secret
                and params.get("grant_type") == "authorization_code"
            )
            if not ok:
                return {"errcode": 40125, "errmsg": "invalid appsecret"}
            openid = self.codes.pop(params.get("code", ""), None)
            if openid is None:
                return {"errcode": 40029, "errmsg": "invalid code"}
            return {
                "access_token": secrets.token_hex(16),
                "expires_in": 7200,
                "refresh_token": secrets.token_hex(16),
                "openid": openid,
                "scope": "snsapi_login",
                "unionid": "o6_bmasdasdsad6_2sgVt7hMZOPfL",
            }
        if path == "/oauth2.0/token":  # QQ
            ok = (
                params.get("client_id") == self.app_id
                and params.get("client_secret") == self.secret
                and params.get("grant_type") == "authorization_code"
                and params.get("fmt") == "json"
                and params.get("redirect_uri", "").endswith("/account/linked/qq/callback/")
            )
            openid = self.codes.pop(params.get("code", ""), None) if ok else None
            if openid is None:
                return {"error": 100019, "error_description": "code to access token error"}
            token = secrets.token_hex(16)
            self.tokens[token] = openid
            return {"access_token": token, "expires_in": "7776000", "refresh_token": "r"}
        if path == "/oauth2.0/me":  # QQ
            openid = self.tokens.get(params.get("access_token", ""))
            if openid is None:
                return {"error": 100016, "error_description": "access token check failed"}
            return {"client_id": self.me_client_id or self.app_id, "openid": openid}
        return {"error": "not_found"}

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server API
                parts = urlsplit(self.path)
                params = dict(parse_qsl(parts.query, keep_blank_values=True))
                standin.requests.append({"path": parts.path, "params": params})
                payload = json.dumps(standin.answer(parts.path, params)).encode()
                status = 200
                if standin.mode == "slow":
                    time.sleep(standin.delay)
                elif standin.mode == "http_error":
                    status, payload = 500, b"<html>Internal Server Error</html>"
                elif standin.mode == "garbage":
                    payload = b"<html>maintenance</html>"
                try:
                    self.send_response(status)
                    # WeChat answers JSON as text/plain.
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the client gave up waiting (the timeout test)
                    pass

            def log_message(self, format, *args):
                pass

        return Handler
