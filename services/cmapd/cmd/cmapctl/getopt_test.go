package main

import (
	"bytes"
	"reflect"
	"testing"
)

func TestGetopt(t *testing.T) {
	const optstring = "m:hqgsdDtTbp:C:"
	cases := []struct {
		args     []string
		opts     []opt
		operands []string
		ok       bool
		stderr   string
	}{
		{nil, nil, nil, true, ""},
		{[]string{"-g", "a", "b"}, []opt{{c: 'g'}}, []string{"a", "b"}, true, ""},
		{[]string{"a", "-bq", "-g"}, []opt{{c: 'b'}, {c: 'q'}, {c: 'g'}}, []string{"a"}, true, ""},
		{[]string{"-mstats", "-m", "icmap", "x"}, []opt{{'m', "stats"}, {'m', "icmap"}}, []string{"x"}, true, ""},
		{[]string{"-s", "--", "k", "i8", "-1"}, []opt{{c: 's'}}, []string{"k", "i8", "-1"}, true, ""},
		{[]string{"-s", "k", "i8", "-1"}, []opt{{c: 's'}}, []string{"k", "i8"}, false, "prog: invalid option -- '1'\n"},
		{[]string{"-", "-p"}, nil, []string{"-"}, false, "prog: option requires an argument -- 'p'\n"},
		{[]string{"-x"}, nil, nil, false, "prog: invalid option -- 'x'\n"},
		{[]string{"-:"}, nil, nil, false, "prog: invalid option -- ':'\n"},
	}
	for _, c := range cases {
		var stderr bytes.Buffer
		opts, operands, ok := getopt("prog", c.args, optstring, &stderr)
		if !reflect.DeepEqual(opts, c.opts) || !reflect.DeepEqual(operands, c.operands) || ok != c.ok || stderr.String() != c.stderr {
			t.Errorf("%q: got %v %q %v %q, want %v %q %v %q", c.args, opts, operands, ok, stderr.String(), c.opts, c.operands, c.ok, c.stderr)
		}
	}
}

// TestNoDaemon checks the messages that need no daemon against what
// Debian's corosync-cmapctl 3.1.7 prints (no cmap service listening in a
// test's view is not guaranteed, so only the pre-connection paths).
func TestNoDaemon(t *testing.T) {
	cases := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"cmapctl", "-h"}, 0, helpText, ""},
		{[]string{"cmapctl", "-g"}, 1, "", "Expected key after options\n"},
		{[]string{"cmapctl", "-m", "bogus"}, 1, "", "invalid map name, must be 'default', 'icmap' or 'stats'\n"},
		{[]string{"cmapctl", "-C", "bogus"}, 1, "", "argument to -C should be 'knet', 'totem', 'ipc', 'schedmiss' or 'all'\n"},
		{[]string{"cmapctl", "-x"}, 1, "", "cmapctl: invalid option -- 'x'\n"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := run(c.args, nil, &out, &errb)
		if code != c.code || out.String() != c.stdout || errb.String() != c.stderr {
			t.Errorf("%q: exit %d stdout %q stderr %q", c.args, code, out.String(), errb.String())
		}
	}
}
