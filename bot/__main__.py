"""``python -m bot run ...``: Rasa's own command line, with quiet library warnings.

The same arguments as ``rasa`` (``python -m bot run --model ... --credentials
...``); the only difference is :func:`common.warnings_policy.quiet_library_deprecations`,
applied after Sanic has installed its "once" filter and before Rasa imports
TensorFlow, spaCy and the rest, so the Rasa log starts without two dozen
third-party deprecation notices.  ``tools/devstack.py`` and the Rasa image
start Rasa this way.
"""

from __future__ import annotations

import sanic  # noqa: F401 - its import installs the filter we then override

from common.warnings_policy import quiet_library_deprecations

quiet_library_deprecations()

# Rasa later adds filterwarnings("once", UserWarning), and pyparsing's
# deprecations are UserWarnings too: import matplotlib (which Rasa imports
# anyway, and whose import raises them) while our filters still come first.
import matplotlib  # noqa: E402, F401
from rasa.__main__ import main  # noqa: E402 - after the warning filters

if __name__ == "__main__":
    main()
