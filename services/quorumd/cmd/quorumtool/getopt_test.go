package main

import (
	"reflect"
	"testing"
)

func TestStrtonum(t *testing.T) {
	cases := []struct {
		s      string
		lo, hi int64
		want   int64
		ok     bool
	}{
		{"3", 1, 10, 3, true},
		{" 3", 1, 10, 3, true},
		{"+3", 1, 10, 3, true},
		{"3 ", 1, 10, 0, false},
		{"", 0, 10, 0, false},
		{"-", 0, 10, 0, false},
		{"0", 1, 10, 0, false},
		{"-1", 0, 10, 0, false},
		{"2147483647", 1, 2147483647, 2147483647, true},
		{"2147483648", 1, 2147483647, 0, false},
		{"9223372036854775807", 0, 9223372036854775807, 9223372036854775807, true},
		{"9223372036854775808", 0, 9223372036854775807, 0, false},
		{"99999999999999999999", 0, 9223372036854775807, 0, false},
		{"0x10", 0, 100, 0, false},
	}
	for _, c := range cases {
		got, ok := strtonum(c.s, c.lo, c.hi)
		if got != c.want || ok != c.ok {
			t.Errorf("strtonum(%q, %d, %d) = %d, %v; want %d, %v", c.s, c.lo, c.hi, got, ok, c.want, c.ok)
		}
	}
}

func TestGetopt(t *testing.T) {
	cases := []struct {
		args []string
		want []opt
		msg  string
	}{
		{[]string{"-sH", "-e3", "x", "-n", "2"}, []opt{{'s', ""}, {'H', ""}, {'e', "3"}, {'n', "2"}}, ""},
		{[]string{"--json", "-l"}, []opt{{jsonOpt, ""}, {'l', ""}}, ""},
		{[]string{"-s", "--", "-x"}, []opt{{'s', ""}}, ""},
		{[]string{"-s", "--jso"}, []opt{{'s', ""}}, "qt: invalid option -- '-'\n"},
		{[]string{"-l", "-o"}, []opt{{'l', ""}}, "qt: option requires an argument -- 'o'\n"},
	}
	for _, c := range cases {
		got, msg := getopt("qt", c.args, optstring)
		if !reflect.DeepEqual(got, c.want) && !(len(got) == 0 && len(c.want) == 0) || msg != c.msg {
			t.Errorf("getopt(%q) = %v %q; want %v %q", c.args, got, msg, c.want, c.msg)
		}
	}
}
