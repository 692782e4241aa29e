"""A test driver that signs in on the sandbox's login page the way a browser would."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

import httpx


class LoginPageError(RuntimeError):
    """The login did not end in a redirect back to the client (e.g. wrong password, or an
    error page instead of the form). ``status`` and ``message`` tell what the page said."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(f"login did not redirect (HTTP {status}): {message}")


@dataclass
class _Form:
    action: str = ""
    method: str = "get"
    fields: list[tuple[str, str]] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)


class _PageParser(HTMLParser):
    """Collects the first form (its hidden/text inputs and submit buttons) and alert texts."""

    def __init__(self) -> None:
        super().__init__()
        self.form: _Form | None = None
        self._in_form = False
        self._alert_depth = 0
        self.alerts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form" and self.form is None:
            self.form = _Form(attributes.get("action", ""), attributes.get("method", "get").lower())
            self._in_form = True
        elif self._in_form and self.form is not None:
            self._form_control(tag, attributes, self.form)
        if attributes.get("role") == "alert":
            self._alert_depth = 1
            self.alerts.append("")
        elif self._alert_depth:
            self._alert_depth += 1

    def _form_control(self, tag: str, attributes: dict[str, str], form: _Form) -> None:
        name = attributes.get("name")
        if not name:
            return
        kind = attributes.get("type", "submit" if tag == "button" else "text").lower()
        if kind == "submit" and tag in ("button", "input"):
            form.buttons.append((name, attributes.get("value", "")))
        elif tag == "input":
            form.fields.append((name, attributes.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        if self._alert_depth:
            self._alert_depth -= 1

    def handle_data(self, data: str) -> None:
        if self._alert_depth:
            self.alerts[-1] += data


def _parse(html: str) -> _PageParser:
    parser = _PageParser()
    parser.feed(html)
    parser.close()
    return parser


def _alert_text(page: _PageParser) -> str:
    return " ".join(" ".join(a.split()) for a in page.alerts) or "no message"


def login(
    http: httpx.Client,
    authorize_url: str,
    email: str,
    password: str,
    *,
    cancel: bool = False,
) -> str:
    """Open ``authorize_url``, fill in and submit the sign-in form (or press Cancel), and
    return the ``Location`` the sandbox redirects to, without following it.

    Raises ``LoginPageError`` when a page comes back instead of a redirect (wrong password,
    rejected request).
    """
    first = http.get(authorize_url, follow_redirects=False)
    if first.is_redirect:
        return first.headers["location"]
    page = _parse(first.text)
    if first.status_code != 200 or page.form is None:
        raise LoginPageError(first.status_code, _alert_text(page))
    form = page.form
    values = dict(form.fields)
    values.update(email=email, password=password)
    wanted = "cancel" if cancel else "login"
    button = next((b for b in form.buttons if b[1] == wanted), None)
    if button is None:
        raise LoginPageError(first.status_code, f"the form has no {wanted!r} button")
    values[button[0]] = button[1]
    target = urljoin(str(first.url), form.action or str(first.url))
    second = http.post(target, data=values, follow_redirects=False)
    if second.is_redirect:
        return second.headers["location"]
    raise LoginPageError(second.status_code, _alert_text(_parse(second.text)))
