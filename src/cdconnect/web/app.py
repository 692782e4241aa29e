"""``create_app``: the connect service as a FastAPI app (nothing is built at import time)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio.to_thread
import httpx
from fastapi import FastAPI

from cdconnect import __version__
from cdconnect.manager import ConnectionManager
from cdconnect.settings import Settings
from cdconnect.web import api, ops
from cdconnect.web.admin_auth import AdminKeys
from cdconnect.web.connect import connect_router
from cdconnect.web.context import ServiceContext, callback_path_of, public_url_of
from cdconnect.web.errors import install_error_handlers
from cdconnect.web.middleware import (
    DEFAULT_MAX_BODY,
    BodySizeLimitMiddleware,
    RequestContextMiddleware,
)
from cdconnect.web.pages import Pages
from cdconnect.webhooks import (
    WebhookConfig,
    WebhookDeliverer,
    WebhookLoop,
    build_webhook_client,
    webhook_config_from_settings,
)

log = logging.getLogger("cdconnect.web")

DESCRIPTION = (
    "Connect customers' Central Dispatch accounts (connect links and the OAuth callback), "
    "hand out their access tokens to your backends, and follow their status. "
    "See docs/http-api.md."
)


def create_app(
    settings: Settings,
    manager: ConnectionManager,
    *,
    public_url: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    webhooks: WebhookConfig | None = None,
    webhook_http: httpx.Client | None = None,
    close_manager: bool = False,
) -> FastAPI:
    """The service app over ``manager``.

    ``public_url`` is the origin browsers use to reach the service (default: the origin of
    ``settings.redirect_uri``). ``webhooks`` defaults to the settings' webhook URL and secret;
    the delivery loop runs during the app's lifespan. ``close_manager``: the app owns the
    manager and closes it at shutdown.
    """
    context = ServiceContext(
        settings=settings,
        manager=manager,
        admin_keys=AdminKeys(settings.admin_token_list()),
        pages=Pages(),
        public_url=public_url_of(settings, public_url),
        callback_path=callback_path_of(settings),
    )
    webhook_config = webhooks or webhook_config_from_settings(settings)
    app = FastAPI(
        title="cdconnect",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        # No automatic slash redirects: every URL either is a route or is a plain 404.
        redirect_slashes=False,
        lifespan=_lifespan(context, webhook_config, webhook_http, close_manager),
    )
    app.state.cdconnect = context
    install_error_handlers(app)
    app.include_router(connect_router(context.callback_path))
    app.include_router(api.router)
    app.include_router(ops.router)
    # Added last = outermost: the request id and headers wrap even the 413 answer.
    app.add_middleware(BodySizeLimitMiddleware, limit=max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    return app


def _lifespan(
    context: ServiceContext,
    config: WebhookConfig | None,
    http: httpx.Client | None,
    close_manager: bool,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop_webhooks = _start_webhooks(context, config, http) if config else None
        try:
            yield
        finally:
            if stop_webhooks is not None:
                await anyio.to_thread.run_sync(stop_webhooks)
            if close_manager:
                context.manager.close()

    return lifespan


def _start_webhooks(
    context: ServiceContext, config: WebhookConfig, http: httpx.Client | None
) -> Callable[[], None]:
    """Start the delivery loop; returns the function that stops it and frees its resources."""
    client = http or build_webhook_client(context.settings, config)
    deliverer = WebhookDeliverer(context.manager.store, config, http=client)
    loop = WebhookLoop(deliverer, poll_interval=config.poll_interval)
    # Deliver at once when this process changes a connection; other processes' events are
    # picked up by polling.
    unsubscribe = context.manager.on_event(loop.wake)
    loop.start()
    log.info("webhook delivery started")

    def stop() -> None:
        unsubscribe()
        loop.stop()
        if http is None:
            client.close()

    return stop
