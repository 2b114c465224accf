package main

import (
	"bytes"
	"io"
	"net/netip"
	"testing"
)

func TestEscapeGroup(t *testing.T) {
	for _, c := range []struct {
		in     string
		escape bool
		want   string
	}{
		{"grp", true, "grp"},
		{"GROUP\x00", true, `GROUP\x00`},
		{`a\b`, true, `a\\b`},
		{"\x7f\x1f ~", true, `\x7F\x1F ~`},
		{"\x80\xff", true, `\xFFFFFF80\xFFFFFFFF`}, // signed char, as the real tool
		{"\x80\\\x00", false, "\x80\\\x00"},
	} {
		var b bytes.Buffer
		escapeGroup(&b, c.escape, c.in)
		if b.String() != c.want {
			t.Errorf("escapeGroup(%q, %v) = %q, want %q", c.in, c.escape, b.String(), c.want)
		}
	}
}

func TestAddrList(t *testing.T) {
	a := netip.MustParseAddr("10.0.0.1")
	b := netip.MustParseAddr("fd00::2")
	for _, c := range []struct {
		in   []netip.Addr
		want string
	}{
		{nil, ""},
		{[]netip.Addr{a}, "10.0.0.1"},
		{[]netip.Addr{a, b}, "10.0.0.1 fd00::2"},
		{[]netip.Addr{{}, a}, " 10.0.0.1"}, // the separator follows the slot index
	} {
		if got := addrList(c.in); got != c.want {
			t.Errorf("addrList(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestGetopt(t *testing.T) {
	var e bytes.Buffer
	opts, ops, ok := getopt("p", []string{"x", "-ne", "-d;", "--json", "-d", ",", "--", "-h"}, "hd:ne", &e)
	if !ok || len(opts) != 5 || opts[2].arg != ";" || opts[3].c != 'J' || opts[4].arg != "," || len(ops) != 2 {
		t.Fatalf("%v %v %v", opts, ops, ok)
	}
	if _, _, ok := getopt("p", []string{"-q"}, "hd:ne", &e); ok || e.String() != "p: invalid option -- 'q'\n" {
		t.Fatalf("%q", e.String())
	}
	if _, _, ok := getopt("p", []string{"-d"}, "hd:ne", io.Discard); ok {
		t.Fatal("missing argument accepted")
	}
}
