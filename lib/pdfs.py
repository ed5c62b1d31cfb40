"""Active content removed from uploaded PDFs (DESIGN: uploads validated by content; VER-4).

A PDF can carry more than pages: scripts that run when it is opened or a page is shown, actions
that launch programs, submit form data or fetch other files, embedded files, XFA forms and
multimedia. Staff open uploaded PDFs on their own machines, so none of that may reach them.

Every action of a PDF is found by walking all of its objects, wherever it hides (document
open, page, annotation, form field or bookmark, and chained through ``/Next``). What is removed:

- ``/OpenAction`` and every ``/AA`` (additional actions), wherever they appear;
- ``/JavaScript`` and ``/EmbeddedFiles`` from the name tree, ``/AF`` (associated files), the
  ``/EF`` (embedded stream) of every file specification, ``/Collection`` (portfolios);
- ``/XFA`` from the form;
- every action (``/A``, ``/Next``) other than a jump inside the document, a standard page
  navigation or a link to an http(s) or mailto address;
- annotations that play media or carry files (FileAttachment, RichMedia, Screen, Movie, Sound,
  3D).

A PDF in which nothing was found, and that qpdf read without repairing anything, is kept byte
for byte, so a digital signature on it stays valid. Otherwise the cleaned document is written
anew (only what is still referenced is written), read back and checked again.

A PDF that needs a password to open is refused: it cannot be checked, and staff could not read
it either. A PDF that only restricts printing or copying (an owner password) is read, and saved
without that restriction when it has to be rewritten.
"""

import io
import logging
from dataclasses import dataclass, field

import pikepdf
from pikepdf import Array, Dictionary, Name, Stream

logger = logging.getLogger(__name__)

SAFE_ACTIONS = {"/GoTo", "/Thread"}
SAFE_NAMED = {"/NextPage", "/PrevPage", "/FirstPage", "/LastPage"}
SAFE_URI_SCHEMES = ("http://", "https://", "mailto:")
DANGEROUS_ANNOTATIONS = {"/FileAttachment", "/RichMedia", "/Screen", "/Movie", "/Sound", "/3D"}
# Keys removed from every dictionary that holds them.
REMOVED_EVERYWHERE = ("/AA", "/OpenAction", "/JS", "/AF", "/EF", "/RichMediaContent")
# Objects a file may hold before it is not worth walking (a 5 MB PDF holds far fewer).
MAX_OBJECTS = 500_000


class PasswordProtected(Exception):
    """The PDF needs a password to open."""


class Unreadable(Exception):
    """The PDF cannot be parsed, or holds something it cannot be cleaned of."""


@dataclass
class Findings:
    removed: list[str] = field(default_factory=list)

    def add(self, what: str) -> None:
        if what not in self.removed:
            self.removed.append(what)


def _is_safe_action(action) -> bool:
    if not isinstance(action, Dictionary):
        return False
    kind = action.get("/S")
    if kind is None:
        return False
    kind = str(kind)
    if kind in SAFE_ACTIONS:
        return True
    if kind == "/Named":
        return str(action.get("/N", "")) in SAFE_NAMED
    if kind == "/URI":
        try:
            uri = bytes(action.get("/URI", b"")).decode("latin-1").strip().lower()
        except (TypeError, ValueError):
            return False
        return uri.startswith(SAFE_URI_SCHEMES)
    return False


def _clean_dictionary(obj, findings: Findings) -> None:
    for key in REMOVED_EVERYWHERE:
        if key in obj:
            del obj[key]
            findings.add(key)
    for key in ("/A", "/Next"):
        if key in obj:
            value = obj[key]
            # /Next may be an array of actions: keep it only if every one of them is safe.
            actions = list(value) if isinstance(value, Array) else [value]
            if not all(_is_safe_action(a) for a in actions):
                del obj[key]
                findings.add(key)
    if "/Names" in obj and isinstance(obj["/Names"], Dictionary):
        names = obj["/Names"]
        for key in ("/JavaScript", "/EmbeddedFiles"):
            if key in names:
                del names[key]
                findings.add(key)
    if "/XFA" in obj:
        del obj["/XFA"]
        findings.add("/XFA")
    if obj.get("/Type") == Name.Catalog and "/Collection" in obj:
        del obj["/Collection"]
        findings.add("/Collection")
    if "/Annots" in obj and isinstance(obj["/Annots"], Array):
        annots = obj["/Annots"]
        keep = [
            a
            for a in annots
            if not (
                isinstance(a, Dictionary) and str(a.get("/Subtype", "")) in DANGEROUS_ANNOTATIONS
            )
        ]
        if len(keep) != len(annots):
            obj["/Annots"] = Array(keep)
            findings.add("/Annots")


def _walk(pdf, findings: Findings) -> None:
    """Every dictionary of the file: the indirect objects, and what is nested in them directly.
    Iterative, so a deeply nested file cannot exhaust the stack."""
    if len(pdf.objects) > MAX_OBJECTS:
        raise Unreadable("too many objects")
    seen = set()
    stack = [pdf.trailer, *pdf.objects]
    while stack:
        obj = stack.pop()
        if isinstance(obj, Stream):
            obj = obj.stream_dict
        if not isinstance(obj, (Dictionary, Array)):
            continue
        if obj.is_indirect:
            key = obj.objgen
            if key in seen:
                continue
            seen.add(key)
        if isinstance(obj, Dictionary):
            _clean_dictionary(obj, findings)
            children = [obj[k] for k in obj.keys()]  # noqa: SIM118 - keys() after deletions
        else:
            children = list(obj)
        # Indirect children are in pdf.objects already; only direct ones need a visit here.
        stack.extend(c for c in children if not getattr(c, "is_indirect", False))


def clean(data: bytes) -> bytes:
    """Return ``data`` without active content: ``data`` itself when there was none and nothing
    needed repair. Raises PasswordProtected or Unreadable."""
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            # get_warnings() hands over what qpdf noted so far and forgets it: ask each time.
            repaired = bool(pdf.get_warnings())
            if len(pdf.pages) == 0:
                raise Unreadable("no pages")
            findings = Findings()
            _walk(pdf, findings)
            repaired = bool(pdf.get_warnings()) or repaired
            if not findings.removed and not repaired and not pdf.is_encrypted:
                return data
            out = io.BytesIO()
            # qpdf writes the right /Size only when the trailer has one; a rebuilt trailer may not.
            pdf.trailer.Size = 0
            # Not re-compressed: streams are copied as they are, so a compressed bomb is never
            # inflated here. Without encryption: staff must be able to open it.
            pdf.save(
                out,
                stream_decode_level=pikepdf.StreamDecodeLevel.none,
                encryption=False,
                deterministic_id=True,
            )
        cleaned = out.getvalue()
        with pikepdf.open(io.BytesIO(cleaned)) as again:
            check = Findings()
            _walk(again, check)
            if check.removed:
                raise Unreadable(f"still holds {check.removed}")
        if findings.removed:
            logger.info("Active content removed from an uploaded PDF: %s", findings.removed)
        return cleaned
    except pikepdf.PasswordError:
        raise PasswordProtected() from None
    except (PasswordProtected, Unreadable):
        raise
    except Exception as exc:  # qpdf's parse errors, and anything a hostile file provokes
        logger.info("PDF refused: %s", type(exc).__name__)
        raise Unreadable(type(exc).__name__) from None
