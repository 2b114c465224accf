#!/usr/bin/env python3
"""Turns `strace -x -s 70000 -e trace=writev,recvfrom` output of a libcmap
client on libqb's socket transport into one line per cmap message:
'> HEX' for a request the client sent, '< HEX' for a reply or event it
received (whole messages only: the MSG_PEEK header reads are skipped)."""
import re
import sys

STR = re.compile(r'"((?:[^"\\]|\\.)*)"')


def unescape(s):
    out = bytearray()
    i = 0
    while i < len(s):
        c = s[i]
        if c == '\\':
            n = s[i + 1]
            if n == 'x':
                out.append(int(s[i + 2:i + 4], 16))
                i += 4
                continue
            out.append({'n': 10, 't': 9, 'r': 13, 'v': 11, 'f': 12, '"': 34, '\\': 92}.get(n, ord(n)))
            i += 2
            continue
        out.append(ord(c))
        i += 1
    return bytes(out)


for line in open(sys.argv[1]):
    if ' writev(' in line and '= -1' not in line:
        data = b''.join(unescape(m) for m in STR.findall(line))
        print('>', data.hex())
    elif ' recvfrom(' in line and 'MSG_WAITALL' in line and '= -1' not in line:
        m = STR.search(line)
        print('<', unescape(m.group(1)).hex())
