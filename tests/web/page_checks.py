"""What a page must get right for a screen reader and for a person looking at it, checked on
the HTML alone, for tests that walk many pages or forms.

- Each id once in the document, and each label, description and heading reference naming an
  id that is there. A duplicate id ties an error to the wrong field (the reader announces the
  first one it finds); a reference to a missing id is dropped, so the field is read without
  its error or hint.
- No attribute twice on one element (`<details open open>`): invalid HTML, and which value a
  browser keeps is its own choice.
- Each hint with an id is named by a field's aria-describedby: sighted people read it above the
  field, and a screen reader read "Dose (mg), 150" without "Your prescribed dose is 150 mg".
- No field error inside a closed <details>: the page came back refused and the patient sees
  nothing wrong, while what they typed sits folded away unsaved.

Content of a <template> is not part of the document: it is checked on its own, as the page
does when it copies it in."""

from dataclasses import dataclass, field
from html.parser import HTMLParser

_REFERENCES = ("aria-describedby", "aria-labelledby", "aria-controls", "aria-errormessage")
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                   "source", "track", "wbr"})


@dataclass
class _Scope:
    ids: list[str] = field(default_factory=list)
    references: list[tuple[str, str]] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    folded_errors: list[str] = field(default_factory=list)
    repeated_attributes: list[str] = field(default_factory=list)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scopes = [_Scope()]
        self._scope: list[_Scope] = [self.scopes[0]]
        self._open: list[tuple[str, bool]] = []  # (tag, is a closed <details>)
        self._error_text: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        scope = self._scope[-1]
        if len(a) < len(attrs):
            names = [name for name, _ in attrs]
            scope.repeated_attributes += [f"<{tag} {name}>" for name in set(names)
                                          if names.count(name) > 1]
        if a.get("id"):
            scope.ids.append(a["id"])
            if "hint" in (a.get("class") or "").split():
                scope.hints.append(a["id"])
        if tag == "label" and a.get("for"):
            scope.references.append(("for", a["for"]))
        for name in _REFERENCES:
            scope.references += [(name, ref) for ref in (a.get(name) or "").split()]
        if tag == "template":
            self.scopes.append(_Scope())
            self._scope.append(self.scopes[-1])
        if "field-error" in (a.get("class") or "").split() and self._folded():
            self._error_text = []
        if tag not in _VOID:
            self._open.append((tag, tag == "details" and "open" not in a))

    def handle_data(self, data):
        if self._error_text is not None:
            self._error_text.append(data)

    def handle_endtag(self, tag):
        if self._error_text is not None and tag == "p":
            self._scope[-1].folded_errors.append("".join(self._error_text).strip())
            self._error_text = None
        if tag == "template" and len(self._scope) > 1:
            self._scope.pop()
        # Close up to the matching tag (HTML lets some end tags be left out).
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i][0] == tag:
                del self._open[i:]
                break

    def _folded(self) -> bool:
        """Inside a closed <details> of the current scope (a <template> starts a new one)."""
        for tag, closed in reversed(self._open):
            if tag == "template":
                return False
            if closed:
                return True
        return False


def page_problems(html: str) -> list[str]:
    """What is wrong with the page, in words; empty when nothing is."""
    reader = _Reader()
    reader.feed(html)
    problems = []
    for scope in reader.scopes:
        seen: set[str] = set()
        for i in scope.ids:
            if i in seen:
                problems.append(f"id {i!r} is used twice")
            seen.add(i)
        problems += [f"{attr}={ref!r} names no element" for attr, ref in scope.references
                     if ref not in seen]
        described = {ref for attr, ref in scope.references if attr == "aria-describedby"}
        problems += [f"hint {hint!r} is named by no field's aria-describedby"
                     for hint in scope.hints if hint not in described]
        problems += [f"error {text!r} is inside a closed <details>"
                     for text in scope.folded_errors]
        problems += [f"{element} has the attribute twice" for element in scope.repeated_attributes]
    return sorted(set(problems))
