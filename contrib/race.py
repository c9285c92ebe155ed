#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Which cluster of a sticky split (or which endpoint of a hash-balanced
cluster) sluice sends a key to: a second implementation of the race of
doc/weighted-routes.md, written from the document, in Python alone.

usage: contrib/race.py NAME=WEIGHT[,NAME=WEIGHT...] [--ip] KEY ...
       contrib/race.py NAME=WEIGHT[,...] [--ip] -      (keys on stdin)

NAME is a cluster name (a split) or an endpoint address as written in the
file (balance: hash); KEY is the sticky key's value: a header's value, a
cookie's value, or with --ip a client address (1.2.3.4 or ::1). Prints
"KEY NAME" per key. Every sluice with the same file agrees with it, so a
client library, a support tool or a test can tell where a user goes.
"""

import ipaddress
import sys

M = (1 << 64) - 1


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & M
    return h


def mix64(x):
    """splitmix64's finalizer."""
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & M
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & M
    x ^= x >> 31
    return x


def hash64(data):
    return mix64(fnv1a64(data))


def neglog2(h):
    """-log2(u) in Q32 for u = ((h >> 11) + 1) / 2^53, integers only."""
    v = (h >> 11) + 1
    e = v.bit_length() - 1
    m = v << (62 - e)
    frac = 0
    for _ in range(32):
        m = (m * m) >> 62
        frac <<= 1
        if m >= 1 << 63:
            m >>= 1
            frac |= 1
    ln = (53 << 32) - ((e << 32) | frac)
    return ln or 1


def race(key_hash, entries):
    """entries: [(id, weight)]; the index of the winner or None."""
    best, best_l = None, 0
    for i, (ident, w) in enumerate(entries):
        if w == 0:
            continue
        ln = neglog2(mix64(key_hash ^ ident))
        if best is None:
            best, best_l = i, ln
            continue
        a, b = ln * entries[best][1], best_l * w
        if a < b or (a == b and ident < entries[best][0]):
            best, best_l = i, ln
    return best


def key_bytes(key, ip):
    if not ip:
        return key.encode("latin-1")
    a = ipaddress.ip_address(key)
    if a.version == 6 and a.ipv4_mapped is not None:
        a = a.ipv4_mapped
    return a.packed


def main(argv):
    args = [a for a in argv if a != "--ip"]
    ip = len(args) != len(argv)
    if len(args) < 2 or args[0] in ("-h", "--help"):
        sys.stdout.write(__doc__)
        return 0 if args and args[0] in ("-h", "--help") else 2
    names, entries = [], []
    for item in args[0].split(","):
        name, _, w = item.rpartition("=")
        names.append(name)
        entries.append((hash64(name.encode()), int(w)))
    keys = args[1:]
    if keys == ["-"]:
        keys = [line.rstrip("\n") for line in sys.stdin]
    for k in keys:
        i = race(hash64(key_bytes(k, ip)), entries)
        print(k, "-" if i is None else names[i])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
