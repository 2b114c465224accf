package main

import (
	"fmt"
	"io"
	"net/netip"
)

// escapeGroup writes a group name as corosync-cpgtool's fprint_group does.
// With escaping, printable ASCII other than '\' goes out as is, '\' as
// "\\" and every other byte as "\x%02X" of a *signed* char: bytes 0x80 and
// above print sign-extended ("\xFFFFFF80"), as Debian's tool does on
// x86_64. Without escaping the raw bytes go out.
func escapeGroup(w io.Writer, escape bool, g string) {
	for i := 0; i < len(g); i++ {
		c := g[i]
		switch {
		case !escape || (c >= ' ' && c < 0x7f && c != '\\'):
			w.Write([]byte{c})
		case c == '\\':
			io.WriteString(w, `\\`)
		default:
			fmt.Fprintf(w, `\x%02X`, uint32(int32(int8(c))))
		}
	}
}

// addrList renders a node's addresses as fprint_addrs does: every live
// slot (all-zero slots are skipped, but a separator is still counted by
// slot index), space separated, in inet_ntop form.
func addrList(addrs []netip.Addr) string {
	s := ""
	for i, a := range addrs {
		if !a.IsValid() {
			continue
		}
		if i != 0 {
			s += " "
		}
		s += a.String()
	}
	return s
}
