"""Keep third-party DeprecationWarnings out of the service logs.

Sanic 21.12 runs ``warnings.filterwarnings("once", category=DeprecationWarning)``
when ``sanic.app`` is imported, ahead of Python's default "ignore" filter, so
every Sanic process (Rasa, the action server, the backend, the demo page
server) printed two dozen deprecation notices of its libraries at start-up
(pkg_resources, click, pyparsing, distutils in sanic_cors, jax, SQLAlchemy
2.0 notices ...): noise that hides real problems and that nobody here can fix.
:func:`quiet_library_deprecations`, called by each entry point right after
Sanic is imported, ignores them again — except those raised from our own
packages, which stay visible.
"""

from __future__ import annotations

import warnings

OUR_MODULES = r"^(actions|backend|bot|common|tools|web)(\.|$)"


def quiet_library_deprecations() -> None:
    """Ignore DeprecationWarnings of libraries, show ours (idempotent)."""
    for category in (DeprecationWarning, PendingDeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
        warnings.filterwarnings("default", category=category, module=OUR_MODULES)
