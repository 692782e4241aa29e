"""The connect service (``cdconnect serve``): connect pages, the admin/token API, webhooks."""

from cdconnect.web.app import create_app
from cdconnect.web.server import run_server

__all__ = ["create_app", "run_server"]
