# SPDX-License-Identifier: MIT
"""contrib/check.sh, the README's test command, on its failure paths: a
copy of the script runs with stand-ins for the dependency installer, the
build and make (SL_CHECK_DEPS, SL_CHECK_BUILD, SL_CHECK_MAKE) that build
nothing and write the test-suite.log automake would. The closing line must
come on every path, count what ran, and the ASan build must run after a
failed first build unless --stop-first asks otherwise."""

import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sltest import TOP_SRCDIR, check, eq, main, test, tmpdir  # noqa: E402

BUILD = """#!/bin/sh
# the build of $1: fails when FAIL_BUILD names it
top=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$top/$1"
case " $FAIL_BUILD " in *" $1 "*) exit 1 ;; esac
exit 0
"""

MAKE = """#!/bin/sh
# "make -jN check" in a build directory: a test-suite.log with PASS and
# FAIL counts from the environment, by the directory's name
dir=$(basename "$PWD")
case $dir in
build-werror) p=$WERROR_PASS f=$WERROR_FAIL ;;
*) p=$ASAN_PASS f=$ASAN_FAIL ;;
esac
case " $* " in *" TESTS= "*) exit 0 ;; esac
printf '# TOTAL: %d\\n# PASS:  %d\\n# SKIP:  0\\n# FAIL:  %d\\n# ERROR: 0\\n' \\
	$((p + f)) "$p" "$f" >test-suite.log
echo "$dir: make check ran" >&2
[ "$f" -eq 0 ]
"""


def run_check(args=(), **env):
    """Runs a copy of contrib/check.sh in a scratch tree; returns (exit
    status, output lines)."""
    d = tmpdir()
    os.makedirs(os.path.join(d, "contrib"))
    shutil.copy(os.path.join(TOP_SRCDIR, "contrib", "check.sh"),
                os.path.join(d, "contrib", "check.sh"))
    for name, text in (("build", BUILD), ("make", MAKE)):
        p = os.path.join(d, name)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, 0o755)
    e = dict(os.environ, SL_CHECK_DEPS="true",
             SL_CHECK_BUILD=os.path.join(d, "build"),
             SL_CHECK_MAKE=os.path.join(d, "make"),
             WERROR_PASS="3", WERROR_FAIL="0", ASAN_PASS="4", ASAN_FAIL="0",
             FAIL_BUILD="")
    e.update(env)
    p = subprocess.run(["sh", os.path.join(d, "contrib", "check.sh")]
                       + list(args), env=e, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    return p.returncode, p.stdout.decode().splitlines()


@test
def both_builds_pass():
    rc, out = run_check()
    eq((rc, out[-1]), (0, "check: 7 passed, 0 failed"), "result")


@test
def failed_first_build_tests_still_run_asan_and_close():
    # issue 22: a failing strict build stopped the script before the ASan
    # build, with no closing line
    rc, out = run_check(WERROR_FAIL="1")
    eq(rc, 1, "exit status")
    check("build-asan: make check ran" in out, "the ASan build did not "
          "run after the first failed:\n%s" % "\n".join(out))
    eq(out[-1], "check: 7 passed, 1 failed", "closing line")


@test
def stop_first_stops_and_still_closes():
    rc, out = run_check(["--stop-first"], WERROR_FAIL="2")
    eq(rc, 1, "exit status")
    check("build-asan: make check ran" not in out, "--stop-first ran the "
          "ASan build:\n%s" % "\n".join(out))
    eq(out[-1], "check: 3 passed, 2 failed; no tests ran in: build-asan",
       "closing line")


@test
def a_build_that_does_not_build_is_named():
    rc, out = run_check(FAIL_BUILD="build-werror")
    eq(rc, 1, "exit status")
    eq(out[-1], "check: 4 passed, 0 failed; no tests ran in: build-werror",
       "closing line")
    rc, out = run_check(FAIL_BUILD="build-werror build-asan")
    eq((rc, out[-1]), (1, "check: 0 passed, 0 failed; no tests ran in: "
                          "build-werror build-asan"), "nothing built")


if __name__ == "__main__":
    main()
