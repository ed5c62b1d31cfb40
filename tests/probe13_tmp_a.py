import io, struct, zlib
import pytest
from urllib.parse import parse_qs, urlsplit
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from accounts.models import LinkedAccount, ProfilePhoto, User, PhoneCode
from .deletion_helpers import last_code, signed_in_user_id
from .factories import UserFactory, StaffFactory
from .oauth_standin import OAuthStandIn
from accounts import sms

pytestmark = pytest.mark.django_db
PW = reverse("accounts:password")
UPLOAD = reverse("accounts:photo_upload")
NEW = "Lantern-orchid-1987"

# ---------------- password ---------------
@pytest.mark.parametrize("data", [
    {"new_password1": "a\x00bcdefghij", "new_password2": "a\x00bcdefghij", "code": "123456"},
    {"new_password1": "ĳĳĳĳĳĳĳĳĳĳ", "new_password2": "ĳĳĳĳĳĳĳĳĳĳ", "code": "123456"},
    {"new_password1": "x" * 5000, "new_password2": "x" * 5000, "code": "123456"},
    {"new_password1": NEW, "new_password2": NEW, "code": "١٢٣٤٥٦"},
    {"new_password1": NEW, "new_password2": NEW, "code": "²²²²²²"},
    {"new_password1": NEW, "new_password2": NEW, "code": "\x00" * 6},
    {"new_password1": NEW, "new_password2": NEW + "x", "code": "12345"},
    {"new_password1": "", "new_password2": "", "code": ""},
    {"code": ["1", "2"]},
    {"send": "1", "new_password1": "\x00"},
])
def test_password_junk(user_client, user, data):
    r = user_client.post(PW, data)
    print(r.status_code)
    assert r.status_code < 500

def test_unicode_digit_code(user_client, user):
    user_client.post(PW, {"send": "1"})
    code = last_code(user.phone)
    arabic = "".join(chr(0x0660 + int(c)) for c in code)
    r = user_client.post(PW, {"new_password1": NEW, "new_password2": NEW, "code": arabic})
    print("arabic digits code ->", r.status_code)
    assert r.status_code < 500

def test_code_replay(user_client, user):
    user_client.post(PW, {"send": "1"})
    code = last_code(user.phone)
    r = user_client.post(PW, {"new_password1": NEW, "new_password2": NEW, "code": code})
    assert r.status_code == 302
    r = user_client.post(PW, {"new_password1": NEW + "2", "new_password2": NEW + "2", "code": code})
    assert r.status_code == 200
    user.refresh_from_db()
    assert user.check_password(NEW)

def test_login_code_used_for_password(client, user):
    # a code for another purpose (login) must not change the password
    from accounts.services import send_code
    send_code(str(user.phone), PhoneCode.Purpose.LOGIN, "1.2.3.4")
    code = last_code(user.phone)
    client.force_login(user)
    r = client.post(PW, {"new_password1": NEW, "new_password2": NEW, "code": code})
    user.refresh_from_db()
    assert not user.check_password(NEW)

def test_password_signed_out(client):
    r = client.post(PW, {"send": "1"})
    assert r.status_code == 302 and "login" in r.url

# ---------------- oauth ---------------
@pytest.fixture
def wechat(settings):
    s = OAuthStandIn("wx52fb0a1b2c3d4e5f", "wechat-secret").start()
    settings.WECHAT_LOGIN_APP_ID = s.app_id
    settings.WECHAT_LOGIN_APP_SECRET = s.secret
    settings.WECHAT_LOGIN_AUTHORIZE_URL = "https://open.weixin.qq.com/connect/qrconnect"
    settings.WECHAT_LOGIN_TOKEN_URL = s.url + "/sns/oauth2/access_token"
    settings.LINKED_LOGIN_HTTP_TIMEOUT = 2.0
    yield s
    s.stop()

@pytest.fixture
def qq(settings):
    s = OAuthStandIn("101234567", "qq-app-key").start()
    settings.QQ_LOGIN_APP_ID = s.app_id
    settings.QQ_LOGIN_APP_KEY = s.secret
    settings.QQ_LOGIN_AUTHORIZE_URL = "https://graph.qq.com/oauth2.0/authorize"
    settings.QQ_LOGIN_TOKEN_URL = s.url + "/oauth2.0/token"
    settings.QQ_LOGIN_ME_URL = s.url + "/oauth2.0/me"
    settings.LINKED_LOGIN_HTTP_TIMEOUT = 2.0
    yield s
    s.stop()

def start(client, provider="wechat"):
    r = client.post(reverse("accounts:linked_start", args=[provider]))
    assert r.status_code == 302, r.status_code
    q = parse_qs(urlsplit(r.url).query)
    return q.get("state", [None])[0], r

def cb(client, provider="wechat", raw=None, **params):
    url = reverse("accounts:linked_callback", args=[provider])
    if raw is not None:
        return client.get(url + "?" + raw)
    return client.get(url, params)

@pytest.mark.parametrize("raw", [
    "", "state=", "code=", "state=x&code=y", "state=%00&code=%00", "error=access_denied",
    "state=" + "A" * 100000, "code=" + "B" * 100000, "state=%ff%fe&code=%c3",
    "state=a&state=b&code=c&code=d", "error=x&error_description=%3Cscript%3E",
])
def test_callback_junk_no_flow(client, wechat, raw):
    r = cb(client, raw=raw)
    assert r.status_code < 500, r.status_code

@pytest.mark.parametrize("extra", [
    "&code=%00", "&code=" + "C" * 600, "&error=access_denied", "&code=x&code=y", "&code=%E4%BD%A0",
    "&code=%20", "&code=a%0d%0aX-Injected:1",
])
def test_callback_junk_with_flow(client, wechat, user, extra):
    client.force_login(user)
    state, _ = start(client)
    r = cb(client, raw=f"state={state}{extra}")
    assert r.status_code < 500, r.status_code
    assert not LinkedAccount.objects.exists()

def test_duplicated_state_first_valid(client, wechat, user):
    client.force_login(user)
    state, _ = start(client)
    code = wechat.issue("oLVPpjqs9BhvzwPj5A-vTYAX3GLc")
    r = cb(client, raw=f"state={state}&state=bogus&code={code}")
    print("dup state (valid first) ->", r.status_code, LinkedAccount.objects.count())
    assert r.status_code < 500

def test_wechat_code_to_qq_callback(client, wechat, qq, user):
    client.force_login(user)
    state, _ = start(client, "wechat")
    code = wechat.issue("oLVPpjqs9BhvzwPj5A-vTYAX3GLc")
    r = cb(client, "qq", state=state, code=code)
    assert r.status_code < 500
    assert not LinkedAccount.objects.exists()

def test_unknown_provider(client, wechat, user):
    client.force_login(user)
    for p in ["facebook", "WECHAT", "wechat%00", "x" * 300]:
        for name in ("linked_start", "linked_callback", "linked_unlink"):
            url = reverse(f"accounts:{name}", args=[p]) if "%" not in p else f"/account/linked/{p}/start/"
            r = client.post(url) if name != "linked_callback" else client.get(url)
            assert r.status_code < 500, (p, name, r.status_code)

def test_unlink_someone_elses(client, wechat, user, other_user):
    LinkedAccount.objects.create(user=other_user, provider="wechat", external_id="abc")
    client.force_login(user)
    r = client.post(reverse("accounts:linked_unlink", args=["wechat"]))
    assert r.status_code == 404
    assert LinkedAccount.objects.filter(user=other_user).exists()

def test_link_while_signed_out_then_signin(client, wechat, user):
    # start while signed out (login flow), then sign in as user in same browser, then callback
    state, _ = start(client)
    client.force_login(user)
    code = wechat.issue("oLVPpjqs9BhvzwPj5A-vTYAX3GLc")
    r = cb(client, state=state, code=code)
    assert r.status_code < 500
    assert not LinkedAccount.objects.exists()

def test_staff_linked_sign_in(client, wechat, db):
    staff = StaffFactory()
    LinkedAccount.objects.create(user=staff, provider="wechat", external_id="oStaff")
    state, _ = start(client)
    code = wechat.issue("oStaff")
    r = cb(client, state=state, code=code)
    assert signed_in_user_id(client) is None

def test_superuser_non_staff_linked_sign_in(client, wechat, db):
    su = UserFactory(is_superuser=True)
    LinkedAccount.objects.create(user=su, provider="wechat", external_id="oSu")
    state, _ = start(client)
    code = wechat.issue("oSu")
    r = cb(client, state=state, code=code)
    print("superuser non-staff signed in via wechat:", signed_in_user_id(client))

def test_next_open_redirect(client, wechat, user):
    LinkedAccount.objects.create(user=user, provider="wechat", external_id="oUser")
    for nxt in ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"]:
        c = Client()
        r = c.post(reverse("accounts:linked_start", args=["wechat"]), {"next": nxt})
        state = parse_qs(urlsplit(r.url).query)["state"][0]
        r = cb(c, state=state, code=wechat.issue("oUser"))
        assert r.status_code == 302
        assert r.url.startswith("/") and not r.url.startswith("//") and "evil" not in r.url, r.url

def test_qq_garbage(client, qq, user):
    client.force_login(user)
    for mode in ["garbage", "http_error"]:
        qq.mode = mode
        state, _ = start(client, "qq")
        r = cb(client, "qq", state=state, code=qq.issue("0A1B2C3D4E5F60718293A4B5C6D7E8F9"))
        assert r.status_code < 500

# ---------------- photo ---------------
def up(client, data, name="me.jpg", ct="image/jpeg"):
    return client.post(UPLOAD, {"photo": SimpleUploadedFile(name, data, ct)})

def img(fmt="JPEG", size=(40, 24), mode="RGB", **kw):
    i = Image.new(mode, size)
    o = io.BytesIO(); i.save(o, fmt, **kw); return o.getvalue()

def png_bomb(w=30000, h=30000):
    raw = zlib.compress(b"\x00" * (w // 8 + 1) * 10, 9)  # incomplete but header claims huge
    def chunk(t, d):
        c = struct.pack(">I", len(d)) + t + d
        return c + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    ihdr = struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")

def gif_anim():
    frames = [Image.new("P", (20, 20), c) for c in (1, 2, 3)]
    o = io.BytesIO(); frames[0].save(o, "GIF", save_all=True, append_images=frames[1:]); return o.getvalue()

def png16():
    i = Image.new("I;16", (30, 30)); o = io.BytesIO(); i.save(o, "PNG"); return o.getvalue()

def apng():
    frames = [Image.new("RGBA", (20, 20), (c, 0, 0, 255)) for c in (10, 100, 200)]
    o = io.BytesIO(); frames[0].save(o, "PNG", save_all=True, append_images=frames[1:]); return o.getvalue()

CASES = {
    "zero": (b"", "a.jpg", "image/jpeg"),
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "a.svg", "image/svg+xml"),
    "heic": (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 100, "a.heic", "image/heic"),
    "bomb": (png_bomb(), "a.png", "image/png"),
    "jpeg_as_png": (img(), "a.png", "image/png"),
    "png_as_jpg": (img("PNG"), "a.jpg", "image/jpeg"),
    "gif": (gif_anim(), "a.gif", "image/gif"),
    "cmyk": (img(mode="CMYK"), "a.jpg", "image/jpeg"),
    "png16": (png16(), "a.png", "image/png"),
    "tall": (img("PNG", size=(1, 20000), mode="L"), "a.png", "image/png"),
    "wide": (img("PNG", size=(20000, 1), mode="L"), "a.png", "image/png"),
    "apng": (apng(), "a.png", "image/png"),
    "grey_jpeg": (img(mode="L"), "a.jpg", "image/jpeg"),
    "truncated": (img(size=(200, 200))[:300], "a.jpg", "image/jpeg"),
    "la_png": (img("PNG", mode="LA"), "a.png", "image/png"),
    "1bit": (img("PNG", mode="1"), "a.png", "image/png"),
    "webp": (img("WEBP"), "a.webp", "image/webp"),
    "progressive": (img(size=(600, 600), progressive=True), "a.jpg", "image/jpeg"),
    "name_weird": (img(), "\x00../../etc/passwd.jpg", "image/jpeg"),
    "tiny": (img(size=(1, 1)), "a.jpg", "image/jpeg"),
}

@pytest.mark.parametrize("case", list(CASES))
def test_photo_cases(user_client, user, case):
    data, name, ct = CASES[case]
    r = up(user_client, data, name, ct)
    saved = ProfilePhoto.objects.filter(user=user).exists()
    print(f"PHOTO {case}: status={r.status_code} saved={saved}")
    assert r.status_code < 500
    if saved:
        got = user_client.get(reverse("accounts:photo"))
        with Image.open(io.BytesIO(got.content)) as im:
            print("   ->", im.format, im.size, im.mode)

def test_photo_no_file(user_client):
    r = user_client.post(UPLOAD, {})
    assert r.status_code < 500
    r = user_client.post(UPLOAD, {"photo": "notafile"})
    assert r.status_code < 500

def test_photo_of_other(client, user, other_user):
    data = img()
    client.force_login(other_user)
    up(client, data)
    client.force_login(user)
    r = client.get(reverse("accounts:photo_of", args=[other_user.pk]))
    assert r.status_code == 404

def test_photo_of_staff_without_perm(client, user):
    up_c = Client(); up_c.force_login(user); up(up_c, img())
    staff = StaffFactory()
    client.force_login(staff)
    r = client.get(reverse("accounts:photo_of", args=[user.pk]))
    assert r.status_code == 404
