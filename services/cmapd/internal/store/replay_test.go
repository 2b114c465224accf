package store

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
)

// The replay tests run the operation scripts of testdata/probe (*.args)
// against the store and compare the transcript with what cmapprobe
// printed when run against Debian's corosync 3.1.7 (testdata/real). The
// transcript format is cmapprobe's, and like it lines are cut at 200
// characters. The parts of the transcript that libcmap itself decides
// (keys of 256+ bytes never reach the daemon; a failed get leaves the
// caller's length untouched) are emulated here.

const realDir = "../../testdata/real/"

// loadDump fills a store with a corosync-cmapctl dump (KEY (TYPE) = VALUE).
func loadDump(t *testing.T, s *Store, file string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		i := strings.Index(line, " (")
		j := strings.Index(line, ") = ")
		if i < 0 || j < i {
			t.Fatalf("%s: bad dump line %q", file, line)
		}
		key, typ, val := line[:i], line[i+2:j], line[j+4:]
		tp, ok := value.ParseType(typ)
		if !ok {
			t.Fatalf("%s: type %q", file, typ)
		}
		var v value.Value
		switch tp {
		case value.String:
			v = value.Str(val)
		case value.Double:
			f, _ := strconv.ParseFloat(val, 64)
			v = value.F64(f)
		case value.Int32:
			n, _ := strconv.ParseInt(val, 10, 32)
			v = value.I32(int32(n))
		default:
			n, err := strconv.ParseUint(val, 10, 64)
			if err != nil {
				t.Fatalf("%s: %q: %v", file, line, err)
			}
			switch tp {
			case value.Uint8:
				v = value.U8(uint8(n))
			case value.Uint16:
				v = value.U16(uint16(n))
			case value.Uint32:
				v = value.U32(uint32(n))
			default:
				v = value.U64(n)
			}
		}
		if r := s.Set(key, v); r.Err != cs.OK {
			t.Fatalf("load %s: %v", key, r.Err)
		}
	}
}

func hexOrDash(b []byte) string {
	if len(b) == 0 {
		return "-"
	}
	return hex.EncodeToString(b)
}

// replay runs cmapprobe's operations on one client connection and returns
// its transcript.
func replay(t *testing.T, s *Store, c ConnID, args []string) []string {
	t.Helper()
	var out []string
	var iter uint64
	p := func(format string, a ...any) {
		line := fmt.Sprintf(format, a...)
		if len(line) > 200 {
			line = line[:200]
		}
		out = append(out, line)
	}
	events := func(evs []Event) {
		for _, e := range evs {
			p("  event %d key %s new %d/%d/%s old %d/%d/%s", e.Kind, e.Key,
				e.New.Type, len(e.New.Data), hexOrDash(e.New.Data), e.Old.Type, len(e.Old.Data), hexOrDash(e.Old.Data))
		}
	}
	num := func(s string) int {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("bad number %q in script", s)
		}
		return n
	}
	data := func(s string) []byte {
		if s == "-" {
			return nil
		}
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatalf("bad hex %q", s)
		}
		return b
	}
	nullable := func(s string) string {
		if s == "-" {
			return ""
		}
		return s
	}
	for i := 0; i < len(args); {
		op := args[i]
		i++
		switch op {
		case "set", "setfill":
			key, typ := args[i], value.Type(num(args[i+1]))
			var b []byte
			if op == "set" {
				b = data(args[i+2])
			} else {
				b = []byte(strings.Repeat("a", num(args[i+2])))
			}
			i += 3
			r := Result{Err: cs.ErrNameTooLong}
			if len(key) < 256 { // libcmap refuses longer keys itself
				r = s.ClientSet(c, key, typ, b)
			}
			p("%s %s type %d len %d -> %d", op, key, typ, len(b), r.Err)
			events(r.Events)
		case "get":
			key, n := args[i], num(args[i+1])
			i += 2
			v, err := s.ClientGet(c, key)
			if err == cs.OK && n > 0 && len(v.Data) > n {
				err = cs.ErrInvalidParam
			}
			switch {
			case err != cs.OK:
				p("get %s -> %d type 0 len %d value -", key, err, n)
			case n == 0:
				p("get %s -> %d type %d len %d value -", key, err, v.Type, len(v.Data))
			default:
				p("get %s -> %d type %d len %d value %s", key, err, v.Type, len(v.Data), hexOrDash(v.Data))
			}
		case "inc", "dec":
			key := args[i]
			i++
			step := int32(1)
			if op == "dec" {
				step = -1
			}
			r := s.ClientAdjust(c, key, step)
			p("%s %s -> %d", op, key, r.Err)
			events(r.Events)
		case "del":
			key := args[i]
			i++
			r := s.ClientDelete(c, key)
			p("del %s -> %d", key, r.Err)
			events(r.Events)
		case "track":
			key, flags := args[i], num(args[i+1])
			i += 2
			_, err := s.TrackAdd(c, nullable(key), int32(flags), 77)
			p("track %s flags %d -> %d", key, flags, err)
		case "iinit":
			prefix := args[i]
			i++
			var err cs.Error
			iter, err = s.IterInit(c, nullable(prefix))
			p("iinit %s -> %d", prefix, err)
		case "inext":
			e, err := s.IterNext(c, iter)
			p("inext -> %d %s type %d len %d", err, e.Key, e.Type, e.Len)
		case "ifin":
			p("ifin -> %d", s.IterFinalize(c, iter))
		case "ibad":
			_, err := s.IterNext(c, 0x1234567)
			p("inext bad -> %d", err)
			p("ifin bad -> %d", s.IterFinalize(c, 0x1234567))
		default:
			t.Fatalf("unknown script op %q", op)
		}
	}
	return out
}

// readArgs splits a .args script the way record.sh hands it to the shell:
// whitespace-separated words, `\ ` keeping a space inside a word.
func readArgs(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.ReplaceAll(line, `\ `, "\x00")
		for _, w := range strings.Fields(line) {
			args = append(args, strings.ReplaceAll(w, "\x00", " "))
		}
	}
	return args
}

func readLines(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

func TestReplayAgainstCorosync(t *testing.T) {
	s := New()
	loadDump(t, s, realDir+"default-dump.txt")
	// The recorded corosync runs votequorum, which marks its start-up-only
	// options read-only; quorumd asks for the same.
	for _, k := range VotequorumReadOnlyKeys() {
		if err := s.SetReadOnly(k, false, true); err != cs.OK {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ script, want string }{
		{"store-ops.args", "store-ops.txt"},
		{"iter-track.args", "iter-track.txt"},
	} {
		t.Run(tc.script, func(t *testing.T) {
			c := ConnID(len(tc.script))
			if err := s.Connect(c); err != nil {
				t.Fatal(err)
			}
			defer s.Disconnect(c)
			got := replay(t, s, c, readArgs(t, "../../testdata/probe/"+tc.script))
			want := readLines(t, realDir+tc.want)
			for i := 0; i < len(got) || i < len(want); i++ {
				var g, w string
				if i < len(got) {
					g = got[i]
				}
				if i < len(want) {
					w = want[i]
				}
				if g != w {
					t.Fatalf("line %d differs from corosync 3.1.7:\n got: %q\nwant: %q", i+1, g, w)
				}
			}
		})
	}
}
