package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

// toolOptions is the option table the tool runs with.
func toolOptions() []option {
	var opts []option
	for _, d := range optionDefs(&settings{}, io.Discard) {
		opts = append(opts, d.opt)
	}
	return opts
}

func TestGetopt(t *testing.T) {
	tests := []struct {
		args string
		want string // option names with =arg, space separated
		err  string
	}{
		{"-s", "s", ""},
		{"-sb -n", "s b n", ""},
		{"-k5", "k=5", ""},
		{"-k -5", "k=-5", ""},
		{"-sk 7 x -b", "s k=7 b", ""}, // operands are skipped
		{"--stat --fo", "s force", ""},
		{"--kill=9 --address 3", "k=9 a=3", ""},
		{"--if= -s", "i= s", ""},
		{"-s -- -x", "s", ""},
		{"-s -x -b", "s", "p: invalid option -- 'x'\n"},
		{"-b -k", "b", "p: option requires an argument -- 'k'\n"},
		{"--s", "", "p: option '--s' is ambiguous; possibilities: '--status' '--shutdown'\n"},
		{"--r=1", "", "p: option '--r=1' is ambiguous; possibilities: '--reload' '--reopen'\n"},
		{"--sta=1", "", "p: option '--status' doesn't allow an argument\n"},
		{"--ki", "", "p: option '--kill' requires an argument\n"},
		{"--nope=2", "", "p: unrecognized option '--nope=2'\n"},
	}
	for _, tc := range tests {
		got, msg := getopt("p", strings.Fields(tc.args), toolOptions())
		var names []string
		for _, oc := range got {
			n := oc.opt.name()
			if oc.opt.hasArg {
				n += "=" + oc.arg
			}
			names = append(names, n)
		}
		if strings.Join(names, " ") != tc.want || msg != tc.err {
			t.Errorf("%q: got %v %q, want %q %q", tc.args, names, msg, tc.want, tc.err)
		}
	}
}

func TestGetoptPosixlyCorrect(t *testing.T) {
	t.Setenv("POSIXLY_CORRECT", "1")
	got, msg := getopt("p", []string{"-s", "x", "-b"}, toolOptions())
	if len(got) != 1 || msg != "" {
		t.Fatalf("got %v %q", got, msg)
	}
}

func TestParseNodeID(t *testing.T) {
	for s, want := range map[string]uint32{"1": 1, "+3": 3, " 7": 7, "4294967295": 4294967295, "010": 10} {
		if n, ok := parseNodeID(s); !ok || n != want {
			t.Errorf("%q: %d %v", s, n, ok)
		}
	}
	for _, s := range []string{"", "0", "-1", "4294967296", "9223372036854775808", "1 ", "0x10", "abc", "1_0", "++1"} {
		if n, ok := parseNodeID(s); ok {
			t.Errorf("%q accepted as %d", s, n)
		}
	}
}

func TestKeyPatterns(t *testing.T) {
	for k, want := range map[string]bool{
		"nodelist.node.0.nodeid": true, "nodelist.node.12.nodeid": true, "nodelist.node.+1.nodeid": true,
		"nodelist.node.0.name": false, "nodelist.node.x.nodeid": false, "nodelist.node..nodeid": false,
		"nodelist.node.0.nodeidx": false,
	} {
		if isNodeIDKey(k) != want {
			t.Errorf("isNodeIDKey(%q) = %v", k, !want)
		}
	}
	for k, want := range map[string]int{"totem.interface.0.bindnetaddr": 0, "totem.interface.3.knet_transport": 3, "totem.interface.x": -1, "totem.token": -1} {
		n, ok := interfaceLink(k)
		if (want < 0 && ok) || (want >= 0 && (!ok || n != want)) {
			t.Errorf("interfaceLink(%q) = %d %v", k, n, ok)
		}
	}
}

// TestOptionOrder: options act in command-line order, the last action
// wins, and an invalid node id stops processing where it stands.
func TestOptionOrder(t *testing.T) {
	tests := []struct {
		args   string
		stdout string
		stderr string
		exit   int
	}{
		{"", usage, "", 0},
		{"-h", usage, "", 0},
		{"-r -i x", usage, "", 0},
		{"-k abc -x", "", "The nodeid was not valid, try a positive number\n", 1},
		{"-x -k abc", "", "p: invalid option -- 'x'\n", 1},
		{"-a 0", "", "The nodeid was not valid, try a positive number\n", 1},
	}
	for _, tc := range tests {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"p"}, strings.Fields(tc.args)...), &out, &errb)
		if out.String() != tc.stdout || errb.String() != tc.stderr || code != tc.exit {
			t.Errorf("%q: exit %d stdout %q stderr %q", tc.args, code, out.String(), errb.String())
		}
	}
}
