"""What every route needs, built once per app: the manager, the admin keys, URLs, templates."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request

from cdconnect.manager import ConnectionManager
from cdconnect.settings import Settings
from cdconnect.web.admin_auth import AdminKeys
from cdconnect.web.pages import Pages


@dataclass(frozen=True, slots=True)
class ServiceContext:
    settings: Settings
    manager: ConnectionManager
    admin_keys: AdminKeys
    pages: Pages
    #: ``scheme://host[:port]`` under which browsers reach this service (no trailing slash).
    public_url: str
    #: The path of ``settings.redirect_uri``: where Central Dispatch sends the browser back.
    callback_path: str

    def connect_url(self, link: str) -> str:
        return f"{self.public_url}/connect/{link}"


def public_url_of(settings: Settings, override: str | None = None) -> str:
    """The service's public origin: ``override``, else the origin of the redirect URI.

    The redirect URI is registered with Central Dispatch and served by this service, so its
    origin is by construction where browsers can reach us (behind any proxy).
    """
    if override:
        return override.rstrip("/")
    parts = urlsplit(settings.redirect_uri)
    return f"{parts.scheme}://{parts.netloc}"


def callback_path_of(settings: Settings) -> str:
    return urlsplit(settings.redirect_uri).path or "/"


def context_of(request: Request) -> ServiceContext:
    context: ServiceContext = request.app.state.cdconnect
    return context


async def service_context(request: Request) -> ServiceContext:
    """FastAPI dependency: the app's context (async, so resolving it costs no thread hop)."""
    return context_of(request)
