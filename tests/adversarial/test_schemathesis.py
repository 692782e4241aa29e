"""Schemathesis over the service's own ``/openapi.json``, in-process, with the admin key.

Every documented operation gets generated requests, valid ones (positive mode) and invalid ones
(negative mode): no answer may be a 5xx, and every answer must match the documented response
schema for its status. A connection exists, so the list and the token routes have something to
return. Examples are kept few enough for CI.

Schemathesis's own pytest integration (``schemathesis.pytest.from_fixture``) does not work with
this pytest version, so its Python API drives Hypothesis directly: one strategy per operation.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.adversarial.helpers import Service
from tests.web.conftest import ADMIN

#: Per operation and generation mode; the service documents about ten operations.
MAX_EXAMPLES = 25


def operation_failures(service: Service, mode: GenerationMode) -> dict[str, str]:
    """Run every operation's examples; ``{"METHOD /path": first failure}``."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", service.client.app)
    failures: dict[str, str] = {}
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the service's OpenAPI document is invalid: {result.err()}"
        operation = result.ok()

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            # The same examples every run: a CI failure reproduces locally.
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def exercise(case: schemathesis.Case[Any]) -> None:
            case.call_and_validate(
                headers=ADMIN, checks=[not_a_server_error, response_schema_conformance]
            )

        try:
            exercise()
        except Unsatisfiable:
            # Negative mode: an operation without inputs has nothing to get wrong.
            continue
        # Schemathesis reports check failures as a FailureGroup, a BaseExceptionGroup.
        except (Exception, FailureGroup) as exc:
            failures[operation.label] = f"{type(exc).__name__}: {exc}"[:2000]
    return failures


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_operation_answers_5xx_or_off_its_documented_schema(
    service: Service, mode: GenerationMode
) -> None:
    service.connect_library("acme")

    failures = operation_failures(service, mode)

    assert not failures, "\n\n".join(f"{label}: {failure}" for label, failure in failures.items())
    service.assert_healthy()


# -- what the fuzzing found, pinned ----------------------------------------------------------------


@pytest.mark.parametrize(
    "scope",
    ["marketplace bad\x01token", 'quote"d', "caf\u00e9", ["marketplace", "\\"]],
    ids=["control-char", "double-quote", "non-ascii", "backslash-in-list"],
)
def test_an_invalid_requested_scope_is_422_not_500(
    service: Service, scope: str | list[str]
) -> None:
    response = service.client.post(
        "/api/connect-sessions", json={"external_id": "acme", "scope": scope}, headers=ADMIN
    )

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_input"
