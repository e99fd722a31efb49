"""A Databricks-shaped OAuth authorization server and sample Databricks App, on loopback.

For ``scopedauth demo`` and the test suite::

    from scopedauth.sandbox import Sandbox, SandboxConfig

    with Sandbox() as sb:
        sb.url       # the workspace host: /oidc/..., /api/2.0/preview/scim/v2/Me
        sb.app_url   # the sample app: /api/hello (sql), /api/genie, /api/files
        sb.app_urls  # every app by name: "sample", and each AppSpec the config fronts
"""

from .config import AppSpec, SandboxConfig
from .sandbox import Sandbox
from .state import SandboxStats

__all__ = ["AppSpec", "Sandbox", "SandboxConfig", "SandboxStats"]
