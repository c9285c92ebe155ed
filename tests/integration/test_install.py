# SPDX-License-Identifier: MIT
"""make install and make uninstall into a DESTDIR, from the build directory:
the example configuration lands where the daemon looks by default, an edited
sluice.yaml survives a second install (the new example goes next to it as
sluice.yaml.example), both man pages are installed (sluice(8) naming the
configuration file of the prefix installed to), and uninstall leaves
nothing behind but an operator's edited file. Also contrib/quickstart.sh's
ports (--port, --admin-port, --upstream-port and their environment
variables), run from a copy of the tree whose deps.sh and build.sh do
nothing and whose build/src/sluice is this build's: the README's quick
start without its install and build (tests/build-orders.sh runs it whole,
with the default ports)."""

import filecmp
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sltest import (TOP_BUILDDIR, TOP_SRCDIR, check,  # noqa: E402
                    connect_refused, eq, free_port, get, main, metrics,
                    run_sluice, sluice_path, test, tmpdir, wait_until)

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


def quickstart_tree():
    """A copy of what contrib/quickstart.sh runs, with deps.sh and build.sh
    that do nothing and this build's sluice in build/src."""
    tree = tmpdir()
    for rel in ("contrib/quickstart.sh", "contrib/demo-upstream.py",
                "etc/sluice.yaml"):
        os.makedirs(os.path.join(tree, os.path.dirname(rel)), exist_ok=True)
        shutil.copy(os.path.join(TOP_SRCDIR, rel), os.path.join(tree, rel))
    for rel in ("contrib/deps.sh", "contrib/build.sh"):
        with open(os.path.join(tree, rel), "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(os.path.join(tree, rel), 0o755)
    os.makedirs(os.path.join(tree, "build", "src"))
    os.symlink(os.path.abspath(sluice_path()),
               os.path.join(tree, "build", "src", "sluice"))
    return tree


def quickstart(tree, args, env):
    """Starts contrib/quickstart.sh ARGS in tree, in a session of its own,
    with env as its only quick start variables; returns (process, list
    its output is appended to as it comes, the thread that appends)."""
    e = dict(os.environ)
    for k in ("SLUICE_PORT", "SLUICE_ADMIN_PORT", "DEMO_PORT"):
        e.pop(k, None)
    e.update(env)
    p = subprocess.Popen(["sh", os.path.join(tree, "contrib",
                                             "quickstart.sh")] + args,
                         cwd=tree, env=e, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    out = []
    # the output is drained to the end (sluice's access log goes there)
    t = threading.Thread(target=lambda: out.extend(
        x.decode("utf-8", "replace") for x in p.stdout), daemon=True)
    t.start()
    return p, out, t


def stop_group(p):
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except OSError:
        pass
    p.wait(timeout=10)


@test
def quickstart_rejects_bad_ports():
    tree = quickstart_tree()
    for args, env, want in [
            (["--port", "0"], {}, "expected a port number"),
            (["--admin-port=80x"], {}, "expected a port number"),
            ([], {"DEMO_PORT": "70000"}, "expected a port number"),
            (["--port", "9901"], {}, "ports must differ"),
            (["--port"], {}, "usage:")]:
        p, out, t = quickstart(tree, args, env)
        try:
            rc = p.wait(timeout=10)
        finally:
            stop_group(p)
        t.join(timeout=5)
        text = "".join(out)
        eq(rc, 2, "quickstart.sh %r %r: exit status (output %r)"
           % (args, env, text))
        check(want in text, "quickstart.sh %r %r said %r, not %r"
              % (args, env, text, want))


@test
def quickstart_takes_its_ports():
    # the variables name all three; the options win for two of them
    tree = quickstart_tree()
    env_port, port, admin, env_up, up = (free_port() for _ in range(5))
    p, out, _ = quickstart(tree, ["--port", str(port),
                               "--upstream-port=%d" % up],
                        {"SLUICE_PORT": str(env_port),
                         "SLUICE_ADMIN_PORT": str(admin),
                         "DEMO_PORT": str(env_up)})
    try:
        said = "sluice listens on 127.0.0.1:%d -> demo upstream " \
            "127.0.0.1:%d" % (port, up)
        check(wait_until(lambda: said in "".join(out) or
                         p.poll() is not None, timeout=20),
              "quickstart.sh never said %r: %r" % (said, "".join(out)))
        check(p.poll() is None, "quickstart.sh exited %s: %r"
              % (p.returncode, "".join(out)))
        # the hint is the line after: read by the reader thread a moment
        # later on a loaded machine
        hint = "curl -i http://127.0.0.1:%d/hello" % port
        check(wait_until(lambda: hint in "".join(out), timeout=10),
              "quickstart.sh's hint names another port: %r" % "".join(out))
        r = get(port, "/hello")
        eq(r.status, 200, "GET /hello through --port %d" % port)
        eq(json.loads(r.body)["port"], up, "the demo upstream's port")
        # counted once its exchange ends, just after the client has its
        # answer
        check(wait_until(lambda: metrics(admin).get(
            "sluice_requests_total") == 1),
              "the admin listener on SLUICE_ADMIN_PORT %d did not count "
              "the request" % admin)
        for q in (env_port, env_up):
            check(connect_refused(q), "something listens on %d, the "
                  "variable's port the option replaced" % q)
        with open(os.path.join(tree, "build", "quickstart.yaml")) as f:
            conf = f.read()
        for a in (port, admin, up):
            check("127.0.0.1:%d" % a in conf, "build/quickstart.yaml "
                  "does not name 127.0.0.1:%d" % a)
        # SIGTERM, as Ctrl-C, stops sluice and the demo upstream
        p.send_signal(signal.SIGTERM)
        eq(p.wait(timeout=40), 143, "quickstart.sh's exit status after "
           "SIGTERM")
        for q in (port, admin, up):
            check(wait_until(lambda: connect_refused(q), timeout=5),
                  "127.0.0.1:%d still listens after SIGTERM" % q)
    finally:
        stop_group(p)


if __name__ == "__main__":
    main()
