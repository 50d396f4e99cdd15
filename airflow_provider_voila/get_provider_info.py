"""Provider metadata that Airflow reads through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_voila import __version__, routes


def get_provider_info() -> dict[str, Any]:
    """Return the provider-info dict: package, hooks, operators and the ``voila`` connection form."""
    return {
        "package-name": "airflow-provider-voila",
        "name": "Voilà",
        "description": "Register attendees on the Voilà live-event platform and export session data.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Voilà",
                "external-doc-url": "https://backstage.voila.live",
                "tags": ["service"],
            }
        ],
        "hooks": [{"integration-name": "Voilà", "python-modules": ["airflow_provider_voila.hooks.voila"]}],
        "operators": [
            {
                "integration-name": "Voilà",
                "python-modules": [
                    "airflow_provider_voila.operators.attendees",
                    "airflow_provider_voila.operators.export",
                ],
            }
        ],
        "connection-types": [
            {
                "connection-type": "voila",
                "hook-class-name": "airflow_provider_voila.hooks.voila.VoilaHook",
                "hook-name": "Voilà",
                "ui-field-behaviour": {
                    # Port stays visible, and filling it in is what lets the connection list's Test
                    # button reach the hook on Airflow 3.3.2. That button sends port 0 for a port
                    # stored as null. The API server then treats the request as a different endpoint
                    # and returns "Bad Request" without calling test_connection() (apache/airflow#73298,
                    # fixed after 3.3.2). A saved port matches, and the test runs with the stored
                    # secret. The hook uses the port only when the base URL has none, so 443 with the
                    # https default reaches the same server.
                    "hidden-fields": ["schema"],
                    "relabeling": {
                        "login": "Client ID",
                        "password": "Client Secret",
                        "host": "API base URL",
                    },
                    "placeholders": {
                        "login": "Client ID from Backstage > Integrations > Public API",
                        "password": "Client Secret from the same page",
                        "host": routes.DEFAULT_BASE_URL,
                        "port": "443, or the port of an http:// base URL (Test needs it on Airflow 3.3.2)",
                    },
                },
                "conn-fields": _connection_fields(),
            }
        ],
    }


def _connection_fields() -> dict[str, Any]:
    return {
        "organization_id": {
            "label": "Organization ID",
            "description": "Your organization's id, shown in Backstage > Integrations > Public API.",
            "schema": {"type": ["string", "null"], "minLength": 1},
        },
        # The token URL's default is named in the description, not set as the schema default:
        # Airflow 3.3.2 masks the value of any extra field whose name contains "token", so the form
        # would be prefilled with "***" and save that. Left empty, the hook uses the default.
        "token_url": {
            "label": "Token URL",
            "description": (
                "OAuth2 token endpoint for the client-credentials grant. "
                f"Leave empty for {routes.DEFAULT_TOKEN_URL}."
            ),
            "schema": {"type": ["string", "null"]},
        },
        "scope": {
            "label": "OAuth scope",
            "description": f"Scope requested with each token. The Voilà API expects {routes.DEFAULT_SCOPE}.",
            "schema": {"type": ["string", "null"], "default": routes.DEFAULT_SCOPE},
        },
        "timeout": {
            "label": "Request timeout (seconds)",
            "description": "Seconds to wait for the connection and for each read of an answer.",
            "schema": {"type": ["number", "null"], "minimum": 1, "default": routes.DEFAULT_TIMEOUT},
        },
        "max_attempts": {
            "label": "Max attempts",
            "description": "Attempts per request, the first included, on 429, 5xx and network errors.",
            "schema": {"type": ["integer", "null"], "minimum": 1, "default": routes.DEFAULT_MAX_ATTEMPTS},
        },
        "retry_budget": {
            "label": "Retry budget (seconds)",
            "description": "No new attempt starts after this many seconds since the first one.",
            "schema": {"type": ["number", "null"], "minimum": 1, "default": routes.DEFAULT_RETRY_BUDGET},
        },
    }
