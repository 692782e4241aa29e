"""A faithful local stand-in for Central Dispatch's identity server (id.centraldispatch.com).

Independent of the rest of cdconnect on purpose: a bug shared by client and server would pass.
"""

from cdconnect.sandbox.app import create_sandbox_app, sandbox_state
from cdconnect.sandbox.config import (
    BROKER_EMAIL,
    CARRIER_EMAIL,
    CLI_REDIRECT_URI,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    SERVICE_CLIENT_ID,
    SERVICE_CLIENT_SECRET,
    SERVICE_REDIRECT_URI,
    TEST_PASSWORD,
    ClientRegistration,
    SandboxConfig,
    TestAccount,
    default_config,
)
from cdconnect.sandbox.control import CounterSnapshot, SandboxControl
from cdconnect.sandbox.driver import LoginPageError, login
from cdconnect.sandbox.inprocess import SandboxASGITransport
from cdconnect.sandbox.server import SandboxServer
from cdconnect.sandbox.signing import SigningKey
from cdconnect.sandbox.state import SandboxState

__all__ = [
    "BROKER_EMAIL",
    "CARRIER_EMAIL",
    "CLI_REDIRECT_URI",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "SERVICE_CLIENT_ID",
    "SERVICE_CLIENT_SECRET",
    "SERVICE_REDIRECT_URI",
    "TEST_PASSWORD",
    "ClientRegistration",
    "CounterSnapshot",
    "LoginPageError",
    "SandboxASGITransport",
    "SandboxConfig",
    "SandboxControl",
    "SandboxServer",
    "SandboxState",
    "SigningKey",
    "TestAccount",
    "create_sandbox_app",
    "default_config",
    "login",
    "sandbox_state",
]
