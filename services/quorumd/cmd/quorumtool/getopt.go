package main

import (
	"fmt"
	"strings"
)

// opt is one parsed option: its letter (or 'J' for --json) and argument.
type opt struct {
	c   byte
	arg string
}

// jsonOpt stands for --json, needle's only addition to the options.
const jsonOpt = 'J'

// getopt parses args (without the program name) as glibc's getopt(3)
// does for corosync-quorumtool's optstring: clusters of short options,
// attached or separate arguments, operands anywhere (permuted away and
// ignored), "--" ending the options. There are no long options in the
// original, so "--x" is the option '-' and invalid; the one exception is
// the exact word "--json". It returns the options before the first error
// and that error's message (prog is argv[0], as getopt prints it), or "".
// The caller acts on the options in order before printing the message,
// because getopt only reaches the error after the earlier options ran.
func getopt(prog string, args []string, optstring string) ([]opt, string) {
	var out []opt
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if a == "--json" {
			out = append(out, opt{c: jsonOpt})
			continue
		}
		if len(a) < 2 || a[0] != '-' {
			continue
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			k := strings.IndexByte(optstring, c)
			if k < 0 || c == ':' {
				return out, fmt.Sprintf("%s: invalid option -- '%c'\n", prog, c)
			}
			if k+1 >= len(optstring) || optstring[k+1] != ':' {
				out = append(out, opt{c: c})
				continue
			}
			switch {
			case j+1 < len(a):
				out = append(out, opt{c, a[j+1:]})
			case i+1 < len(args):
				i++
				out = append(out, opt{c, args[i]})
			default:
				return out, fmt.Sprintf("%s: option requires an argument -- '%c'\n", prog, c)
			}
			break
		}
	}
	return out, ""
}

// strtonum is corosync's util_strtonum: strtoll(str, 10) that must
// consume the whole string (leading white space and a sign allowed, as
// strtoll allows them), without overflow, within [lo, hi].
func strtonum(s string, lo, hi int64) (int64, bool) {
	i := 0
	for i < len(s) && strings.IndexByte(" \t\n\v\f\r", s[i]) >= 0 {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	var v uint64
	overflow := false
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if v > (1<<63)/10 {
			overflow = true
		}
		v = v*10 + uint64(s[i]-'0')
		if v > 1<<63 {
			overflow = true
		}
	}
	if i == start || i != len(s) {
		return 0, false
	}
	if overflow || (!neg && v == 1<<63) {
		return 0, false // ERANGE
	}
	n := int64(v)
	if neg {
		n = -int64(v)
	}
	if n < lo || n > hi {
		return 0, false
	}
	return n, true
}
