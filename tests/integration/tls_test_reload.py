# SPDX-License-Identifier: MIT
"""test_reload.py with its listeners over TLS: SLTEST_TRANSPORT=tls (see
sltest.py). make check runs the file both ways; arguments (test names)
are passed on."""

import os
import runpy

os.environ["SLTEST_TRANSPORT"] = "tls"
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "test_reload.py"), run_name="__main__")
