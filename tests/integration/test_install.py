# SPDX-License-Identifier: MIT
"""make install and make uninstall into a DESTDIR, from the build directory:
the example configuration lands where the daemon looks by default, an edited
sluice.yaml survives a second install (the new example goes next to it as
sluice.yaml.example), both man pages are installed (sluice(8) naming the
configuration file of the prefix installed to), and uninstall leaves
nothing behind but an operator's edited file."""

import filecmp
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sltest import (TOP_BUILDDIR, TOP_SRCDIR, check, eq, main,  # noqa: E402
                    run_sluice, test, tmpdir)

EXAMPLE = os.path.join(TOP_SRCDIR, "etc", "sluice.yaml")


def make(target, destdir, *args):
    """Runs "make TARGET DESTDIR=destdir ARGS..." in the build directory,
    as its own make: the flags of the make running this test (jobserver,
    -j) are not passed on."""
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        env.pop(k, None)
    p = subprocess.run(["make", "-s", target, "DESTDIR=" + destdir]
                       + list(args),
                       cwd=TOP_BUILDDIR, env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=120)
    out = p.stdout.decode("utf-8", "replace")
    check(p.returncode == 0, "make %s exited %d:\n%s"
          % (target, p.returncode, out))
    return out


def default_conf():
    """The configuration file sluice reads without -c, from sluice -h."""
    rc, out, err = run_sluice(["-h"])
    m = re.search(r"default: (/\S+)\)", out + err)
    check(m, "sluice -h names no default configuration: %r" % (out + err))
    return m.group(1)


def files_under(d):
    found = []
    for root, dirs, files in os.walk(d):
        found += [os.path.relpath(os.path.join(root, f), d) for f in files]
    return sorted(found)


@test
def install_keeps_an_edited_configuration():
    dest = tmpdir()
    conf = dest + default_conf()
    example = conf + ".example"

    make("install", dest)
    check(os.path.isfile(conf), "no %s after make install" % conf)
    check(filecmp.cmp(conf, EXAMPLE, shallow=False),
          "the installed sluice.yaml is not etc/sluice.yaml")
    check(not os.path.exists(example),
          "sluice.yaml.example installed although no sluice.yaml existed")

    with open(conf, "a") as f:
        f.write("# edited by the operator\n")
    with open(conf) as f:
        edited = f.read()
    make("install", dest)
    with open(conf) as f:
        check(f.read() == edited,
              "the second make install overwrote the edited sluice.yaml")
    check(os.path.isfile(example),
          "no sluice.yaml.example next to the edited sluice.yaml")
    check(filecmp.cmp(example, EXAMPLE, shallow=False),
          "sluice.yaml.example is not etc/sluice.yaml")

    make("uninstall", dest)
    eq(files_under(dest), [os.path.relpath(conf, dest)],
       "files left by make uninstall besides the edited sluice.yaml")


@test
def install_man_pages():
    dest = tmpdir()
    make("install", dest)
    pages = [f for f in files_under(dest) if "/man" in f]
    for want in ("man8/sluice.8", "man5/sluice.yaml.5"):
        check([p for p in pages if p.endswith("/" + want)],
              "%s not installed; man files: %r" % (want, pages))


@test
def man_page_names_the_prefix_configuration():
    # sluice(8) says which file sluice reads without -c: under another
    # prefix, that prefix's, not /usr/local's. Only the man pages are
    # installed (no object is rebuilt for the other prefix).
    dest = tmpdir()
    prefix = "/opt/sluice-test"
    try:
        make("install-man", dest, "prefix=" + prefix)
        page = dest + prefix + "/share/man/man8/sluice.8"
        check(os.path.isfile(page), "no %s; installed: %r"
              % (page, files_under(dest)))
        with open(page) as f:
            text = f.read()
        want = prefix + "/etc/sluice/sluice.yaml"
        check(want in text, "the installed sluice(8) does not name %s"
              % want)
        check("/usr/local/etc" not in text, "the installed sluice(8) "
              "still names /usr/local/etc")
    finally:
        # the build's own page back to its prefix (any failure is the
        # test's, above)
        try:
            make("sluice.8", dest)
        except AssertionError:
            pass
    # and with the build's prefix, the file sluice -h names
    dest = tmpdir()
    make("install-man", dest)
    pages = [f for f in files_under(dest) if f.endswith("man8/sluice.8")]
    check(pages, "sluice.8 not installed: %r" % files_under(dest))
    with open(os.path.join(dest, pages[0])) as f:
        check(default_conf() in f.read(), "the installed sluice(8) does "
              "not name %s" % default_conf())


@test
def uninstall_leaves_nothing():
    dest = tmpdir()
    make("install", dest)
    check(files_under(dest), "make install installed nothing")
    make("uninstall", dest)
    eq(files_under(dest), [], "files left by make uninstall")


if __name__ == "__main__":
    main()
