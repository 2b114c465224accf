package coroconf

import (
	"strings"
	"testing"

	cval "github.com/needle-cluster/needle/libs/corotypes/value"
)

// TestParseTable covers grammar corners with exact texts; the corosync
// corpus (corpus_test.go) covers the same rules against the real binary.
func TestParseTable(t *testing.T) {
	cases := []struct {
		name, in string
		keys     string // expected Format(), or
		err      string // expected error text
	}{
		{"empty file", "", "", ""},
		{"comment only", "# x\n   # y\n\n", "", ""},
		{"brace forms", "abc{\n}\ndef: {\n}\nghi :{\n k1: v\n}\n", "ghi.k1 (str) = v\n", ""},
		{"value keeps specials", "sec {\n  k: a#b:c} {x\n}\n", "", "parser error: f:2: Extra characters after opening bracket '{'"},
		{"value with colon hash brace", "sec {\n  k: a#b:c}\n}\n", "sec.k (str) = a#b:c}\n", ""},
		{"empty value", "sec {\n  k:\n}\n", "sec.k (str) = \n", ""},
		{"crlf", "sec {\r\n  k: v\r\n}\r\n", "sec.k (str) = v\n", ""},
		{"tabs", "\tsec\t{\t\n\tk\t:\tv w\t\n}\n", "sec.k (str) = v w\n", ""},
		{"last wins", "totem {\n token: 1\n token: 2\n}\n", "totem.token (u32) = 2\n", ""},
		{"sign allowed", "totem {\n token: +7\n}\n", "totem.token (u32) = 7\n", ""},
		{"negative u32", "totem {\n token: -1\n}\n", "", `parser error: f:2: Value of key "totem.token" is expected to be integer in range (0..4294967295), but "-1" was given`},
		{"i32", "totem {\n knet_compression_level: -2147483648\n}\n", "totem.knet_compression_level (i32) = -2147483648\n", ""},
		{"i32 overflow", "totem {\n knet_compression_level: 2147483648\n}\n", "", `parser error: f:2: Value of key "totem.knet_compression_level" is expected to be integer in range (-2147483648..2147483647), but "2147483648" was given`},
		{"u64 negative wraps", "totem {\n config_version: -1\n}\n", "totem.config_version (u64) = 18446744073709551615\n", ""},
		{"u64 overflow", "totem {\n config_version: 18446744073709551616\n}\n", "", `parser error: f:2: Value of key "totem.config_version" is expected to be integer in range (0..18446744073709551615), but "18446744073709551616" was given`},
		{"typed only on exact path", "totem {\n foo {\n  token: x\n }\n}\n", "totem.foo.token (str) = x\n", ""},
		{"quorum types", "quorum {\n two_node: 1\n expected_votes: 3\n provider: corosync_votequorum\n device {\n  votes: 1\n  master_wins: 0\n  model: net\n }\n}\n",
			"quorum.device.master_wins (u8) = 0\nquorum.device.model (str) = net\nquorum.device.votes (u32) = 1\nquorum.expected_votes (u32) = 3\nquorum.provider (str) = corosync_votequorum\nquorum.two_node (u8) = 1\n", ""},
		{"node numbering", "nodelist {\n node {\n  nodeid: 1\n }\n node {\n  quorum_votes: 2\n  name: b\n }\n}\n",
			"nodelist.node.0.nodeid (u32) = 1\nnodelist.node.1.name (str) = b\nnodelist.node.1.quorum_votes (u32) = 2\n", ""},
		{"second nodelist restarts", "nodelist {\n node {\n  name: a\n }\n}\nnodelist {\n node {\n  name: c\n }\n}\n", "nodelist.node.0.name (str) = c\n", ""},
		{"interface link", "totem {\n interface {\n  linknumber: 3\n  mcastport: 1\n  ttl: 2\n  bindnetaddr: 10.0.0.0\n  other: x\n  member {\n   memberaddr: a\n  }\n  member {\n   memberaddr: b\n  }\n }\n}\n",
			"totem.interface.3.bindnetaddr (str) = 10.0.0.0\ntotem.interface.3.mcastport (u16) = 1\ntotem.interface.3.member.0 (str) = b\ntotem.interface.3.member.1 (str) = a\ntotem.interface.3.ttl (u8) = 2\ntotem.interface.other (str) = x\n", ""},
		{"big ping interval dropped like C int", "totem {\n interface {\n  knet_ping_interval: 3000000000\n  knet_ping_timeout: 2147483647\n }\n}\n", "totem.interface.0.knet_ping_timeout (u32) = 2147483647\n", ""},
		{"resources", "resources {\n watchdog_timeout: 9\n system {\n  load_15min {\n   poll_period: 7\n  }\n }\n}\n",
			"resources.system.load_15min.poll_period (u64) = 7\nresources.watchdog_timeout (u32) = 9\n", ""},
		{"pload stays string", "pload {\n count: 5\n}\n", "pload.count (str) = 5\n", ""},
		{"logger_subsys first duplicate wins", "logging {\n logger_subsys {\n  subsys: A1\n  debug: on\n  debug: off\n }\n}\n", "logging.logger_subsys.A1.debug (str) = on\nlogging.logger_subsys.A1.subsys (str) = A1\n", ""},
		{"logging_daemon corosync", "logging {\n logging_daemon {\n  name: corosync\n  debug: on\n }\n}\n", "logging.debug (str) = on\n", ""},
		{"uidgid numeric", "uidgid {\n uid: 42\n gid: 0\n}\n", "uidgid.config.gid.0 (u8) = 1\nuidgid.config.uid.42 (u8) = 1\n", ""},
		{"uidgid uint max", "uidgid {\n uid: 4294967295\n}\n", "", "parser error: f:2: The '4294967295' user is not found in /etc/passwd, please read the documentation."},
		{"no colon", "abc\n", "", "parser error: f:1: Line is not opening or closing section or key value"},
		{"closing with text", "sec {\n}}\n", "", "parser error: f:2: Extra characters before or after closing bracket '}'"},
		{"unexpected close", "}\n", "", "parser error: f:1: Unexpected closing brace"},
		{"missing close reports last line", "sec {\n\n\n", "", "parser error: f:3: Missing closing brace"},
		{"missing name", "  {\n", "", "parser error: f:1: Missing section name before opening bracket '{'"},
		{"key too short", "ab: c\n", "", `parser error: f:1: Can't store key "ab" into icmap, returned error is CS_ERR_NAME_TOO_LONG`},
		{"bad key char", "sec {\n a*b: c\n}\n", "", `parser error: f:2: Can't store key "sec.a*b" into icmap, returned error is CS_ERR_NAME_TOO_LONG`},
		{"line too long", "k" + strings.Repeat("x", 510) + ": v\n", "", "parser error: f:1: Line too long"},
		{"long last line without newline ok", "abc: " + strings.Repeat("v", 505), "abc (str) = " + strings.Repeat("v", 505) + "\n", ""},
		{"nul in line", "abc: v\x00w\nx: y\n", "", "parser error: f:1: Line too long"},
		{"nul at start", "\x00abc\nabc: v\n", "abc (str) = v\n", ""},
		{"section path too long", strings.Repeat("a", 200) + " {\n" + strings.Repeat("b", 60) + " {\n}\n}\n", "", "parser error: f:2: Start of section makes total cmap path too long"},
		{"key path too long", strings.Repeat("a", 200) + " {\n" + strings.Repeat("b", 60) + ": v\n}\n", "", "parser error: f:2: New key makes total cmap path too long"},
		{"long message falls back", "totem {\n token: " + strings.Repeat("9", 240) + "\n}\n", "", "parser error: f:2: Can't format parser error message"},
		{"system checks", "system {\n move_to_root_cgroup: sometimes\n}\n", "", "parser error: f:2: Invalid system.move_to_root_cgroup"},
		{"knet handle fallback", "system {\n allow_knet_handle_fallback: x\n}\n", "", "parser error: f:2: Invalid system.allow_knet_handle_fallback"},
		{"member only memberaddr", "totem {\n interface {\n  member {\n   x: 1\n  }\n }\n}\n", "", "parser error: f:4: Only memberaddr is allowed in member section"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Parse("f", []byte(c.in), LoadOptions{})
			if c.err != "" {
				if err == nil || err.Error() != c.err {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				if e, ok := err.(*Error); !ok || e.Exit != ExitConfig {
					t.Fatalf("error %#v, want *Error with exit 8", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Format(); got != c.keys {
				t.Fatalf("keys:\n%s\nwant:\n%s", got, c.keys)
			}
		})
	}
}

func TestValueFormat(t *testing.T) {
	cases := []struct {
		v    cval.Value
		want string
	}{
		{cval.U8(255), "k (u8) = 255"},
		{cval.U16(5405), "k (u16) = 5405"},
		{cval.U32(4294967295), "k (u32) = 4294967295"},
		{cval.U64(18446744073709551615), "k (u64) = 18446744073709551615"},
		{cval.I32(-5), "k (i32) = -5"},
		{cval.I8(-128), "k (i8) = -128"},
		{cval.F32(1.5), "k (flt) = 1.500000"},
		{cval.F64(0), "k (dbl) = 0.000000"},
		{cval.Str(""), "k (str) = "},
		{cval.Bin([]byte("vm\n\\")), `k (bin) = vm\x0A\\`},
		{cval.Value{Type: cval.Binary}, "k (bin) = *empty*"},
	}
	for _, c := range cases {
		if got := FormatEntry("k", c.v); got != c.want {
			t.Errorf("%+v: got %q want %q", c.v, got, c.want)
		}
	}
}

func TestTypeCodes(t *testing.T) {
	want := []string{"i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64", "flt", "dbl", "str", "bin"}
	for i, w := range want {
		if got := cval.Type(i + 1).String(); got != w {
			t.Errorf("type %d = %s, want %s", i+1, got, w)
		}
	}
}

func TestClusterMcastAddr(t *testing.T) {
	cases := []struct {
		name string
		link uint32
		v6   bool
		want string
	}{
		// "needle": v = ((((110·2+101)·2+101)·2+100)·2+108)·2+101 = 6661 = 0x1a05;
		// 6661>>8 = 26, 6661 mod 255 = 31.
		{"needle", 0, false, "239.192.26.31"},
		{"needle", 1, false, "239.192.26.32"},
		{"needle", 0, true, "ff15::1a05"},
		{"\xff", 0, false, "239.192.255.0"}, // signed char: v = -1 → 0xffff; 65535 mod 255 = 0
		{"", 0, false, "239.192.0.0"},
	}
	for _, c := range cases {
		if got := clusterMcastAddr(c.name, c.link, c.v6).String(); got != c.want {
			t.Errorf("%q/%d/%v = %s, want %s", c.name, c.link, c.v6, got, c.want)
		}
	}
}
