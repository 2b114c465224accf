package ctlfmt

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/services/cmapd/internal/store"
)

// The replay test runs the corosync-cmapctl invocations recorded in
// testdata/real/cmapctl.txt against a store, through a minimal model of
// the tool's main() built from this package (ParseSet, Line, the error
// texts), and compares stdout, stderr and exit status line by line.

const realDir = "../testdata/real/"

type block struct {
	args   string
	stdout []string
	stderr []string
	exit   int
}

func readBlocks(t *testing.T, file string) []block {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var bs []block
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "$ corosync-cmapctl"):
			bs = append(bs, block{args: strings.TrimPrefix(strings.TrimPrefix(l, "$ corosync-cmapctl"), " ")})
		case strings.HasPrefix(l, "1> "):
			bs[len(bs)-1].stdout = append(bs[len(bs)-1].stdout, l[3:])
		case strings.HasPrefix(l, "2> "):
			bs[len(bs)-1].stderr = append(bs[len(bs)-1].stderr, l[3:])
		case strings.HasPrefix(l, "exit "):
			bs[len(bs)-1].exit, _ = strconv.Atoi(l[5:])
		default:
			t.Fatalf("%s: unexpected line %q", file, l)
		}
	}
	return bs
}

// cmapctl models corosync-cmapctl's main() on a store connection.
type cmapctl struct {
	s      *store.Store
	c      store.ConnID
	out    []string
	errs   []string
	cur    string // stdout line being built (print_key prints pieces)
	binDir string
}

func (m *cmapctl) print(s string) {
	m.cur += s
	for {
		i := strings.IndexByte(m.cur, '\n')
		if i < 0 {
			return
		}
		m.out = append(m.out, m.cur[:i])
		m.cur = m.cur[i+1:]
	}
}

func (m *cmapctl) eprint(s string) { m.errs = append(m.errs, strings.TrimSuffix(s, "\n")) }

func (m *cmapctl) printKey(key string, o Options) {
	v, err := m.s.ClientGet(m.c, key)
	if err != cs.OK {
		m.eprint(GetValueError(key, err))
		return
	}
	m.print(Line(key, v, o))
}

func (m *cmapctl) iter(prefix string, f func(key string)) bool {
	h, err := m.s.IterInit(m.c, prefix)
	if err != cs.OK {
		m.eprint(IterError(err))
		return false
	}
	found := false
	for {
		e, err := m.s.IterNext(m.c, h)
		if err != cs.OK {
			break
		}
		found = true
		f(e.Key)
	}
	m.s.IterFinalize(m.c, h)
	return found
}

// run executes one invocation; args is the recorded `$*` (so the value of
// -s is "everything after key and type").
func (m *cmapctl) run(t *testing.T, args string) int {
	m.c++
	if err := m.s.Connect(m.c); err != nil {
		t.Fatal(err)
	}
	defer m.s.Disconnect(m.c)
	var o Options
	action, mapSel, clear := "print", store.MapIcmap, ""
	rest := args
	for rest != "" && rest[0] == '-' {
		var opt string
		opt, rest, _ = strings.Cut(rest, " ")
		if opt == "--" {
			break
		}
		switch opt {
		case "-b":
			o.Binary = true
		case "-q":
			o.Quiet = true
		case "-g":
			action = "get"
		case "-s":
			action = "set"
		case "-d":
			action = "delete"
		case "-D":
			action = "deleteprefix"
		case "-t", "-T":
			action = "track"
		case "-C":
			clear, rest, _ = strings.Cut(rest, " ")
			action, mapSel = "clear", store.MapStats
		case "-m":
			var name string
			name, rest, _ = strings.Cut(rest, " ")
			switch name {
			case "icmap", "default":
				mapSel = store.MapIcmap
			case "stats":
				mapSel = store.MapStats
			default:
				m.eprint("invalid map name, must be 'default', 'icmap' or 'stats'\n")
				return 1
			}
		default:
			t.Fatalf("option %q not modelled", opt)
		}
	}
	var params []string
	if rest != "" {
		params = strings.Split(rest, " ")
	}
	if len(params) == 0 && action != "clear" && action != "print" {
		m.eprint("Expected key after options\n")
		return 1
	}
	if err := m.s.SetCurrentMap(m.c, mapSel); err != cs.OK {
		t.Fatal(err)
	}
	switch action {
	case "print":
		if len(params) == 0 {
			params = []string{""}
		}
		none := 0
		for _, p := range params {
			if !m.iter(p, func(k string) { m.printKey(k, o) }) {
				none++
			}
		}
		if none > 0 && none >= len(params) {
			return 1
		}
	case "get":
		for _, k := range params {
			if _, err := m.s.ClientGet(m.c, k); err != cs.OK {
				m.eprint(GetKeyError(k, err))
				return 1
			}
			m.printKey(k, o)
		}
	case "delete":
		for _, k := range params {
			if r := m.s.ClientDelete(m.c, k); r.Err != cs.OK {
				m.eprint(DeleteError(k, r.Err))
				return 1
			}
		}
	case "deleteprefix":
		for _, p := range params {
			m.iter(p, func(k string) {
				if r := m.s.ClientDelete(m.c, k); r.Err != cs.OK {
					m.eprint(DeleteError(k, r.Err))
				}
			})
		}
	case "set":
		if len(params) < 3 {
			m.eprint("At least 3 parameters are expected for set\n")
			return 1
		}
		key, typ := params[0], params[1]
		text := strings.Join(params[2:], " ")
		tp, data, msg := ParseSet(typ, text)
		if msg != "" {
			m.eprint(msg)
			return 1
		}
		if tp == value.Binary {
			b, err := os.ReadFile(m.binDir + text)
			if err != nil {
				t.Fatal(err)
			}
			var e cs.Error
			if data, e = BinaryValue(b); e != cs.OK {
				m.eprint(SetError(key, e))
				return 1
			}
		}
		if r := m.s.ClientSet(m.c, key, tp, data); r.Err != cs.OK {
			m.eprint(SetError(key, r.Err))
			return 1
		}
	case "clear":
		m.s.ClientSet(m.c, "stats.clear."+clear, value.Uint32, []byte{1, 0, 0, 0})
	default:
		t.Fatalf("action %s not modelled", action)
	}
	return 0
}

func loadListing(t *testing.T, s *store.Store, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, err := ParseLine(l)
		if err != nil {
			t.Fatal(err)
		}
		if r := s.Set(k, v); r.Err != cs.OK {
			t.Fatalf("%s: %v", k, r.Err)
		}
	}
}

func TestReplayCmapctl(t *testing.T) {
	s := store.New()
	loadListing(t, s, realDir+"default-dump.txt")
	m := &cmapctl{s: s, c: 100, binDir: realDir}
	blocks := readBlocks(t, realDir+"cmapctl.txt")
	if len(blocks) < 70 {
		t.Fatalf("only %d recorded invocations", len(blocks))
	}
	for i, b := range blocks {
		if b.args == "-b f.bine f.t0 f.t13" {
			// record.sh set these with cmapprobe: types cmapctl cannot send.
			s.Set("f.bine", value.Value{Type: value.Binary})
			s.Set("f.t0", value.Value{Type: 0})
			s.Set("f.t13", value.Value{Type: 13})
		}
		m.out, m.errs, m.cur = nil, nil, ""
		exit := m.run(t, b.args)
		if strings.Join(m.out, "\n") != strings.Join(b.stdout, "\n") {
			t.Errorf("block %d (%s): stdout\n got %q\nwant %q", i, b.args, m.out, b.stdout)
		}
		if strings.Join(m.errs, "\n") != strings.Join(b.stderr, "\n") {
			t.Errorf("block %d (%s): stderr\n got %q\nwant %q", i, b.args, m.errs, b.stderr)
		}
		if exit != b.exit {
			t.Errorf("block %d (%s): exit %d, want %d", i, b.args, exit, b.exit)
		}
	}
}

// TestTrackLines checks Event against the recorded -T and -b -t sessions.
func TestTrackLines(t *testing.T) {
	u32 := func(x uint32) value.Value { return value.U32(x) }
	vm, _ := os.ReadFile(realDir + "vm.bin")
	all, _ := os.ReadFile(realDir + "allbytes.bin")
	cases := []struct {
		file string
		o    Options
		evs  []Notify
	}{
		{"cmapctl-track.txt", Options{}, []Notify{
			{EventAdd, "tk.u32", u32(42), value.Value{}},
			{EventModify, "tk.u32", u32(43), u32(42)},
			{EventAdd, "tk.s", value.Str("hello"), value.Value{}},
			{EventModify, "tk.u32", value.Str("x"), u32(43)},
			{EventDelete, "tk.u32", value.Value{}, value.Str("x")},
			{EventAdd, "tk.f", value.F32(2.5), value.Value{}},
			{EventAdd, "tk.b", value.Bin(vm), value.Value{}},
			{EventAdd, "tk.be", value.Bin(nil), value.Value{}},
			{EventAdd, "tk.t0", value.Value{}, value.Value{}},
			{EventModify, "tk.b", value.Bin([]byte{0xff}), value.Bin(vm)},
			{EventDelete, "tk.b", value.Value{}, value.Bin([]byte{0xff})},
			{EventAdd, "tk.i", value.I8(-5), value.Value{}},
		}},
		{"cmapctl-track-bin.txt", Options{Binary: true}, []Notify{
			{EventAdd, "tk.b", value.Bin(all), value.Value{}},
			{EventModify, "tk.b", value.Bin(vm), value.Bin(all)},
			{EventModify, "tk.b", value.Bin(nil), value.Bin(vm)},
			{EventDelete, "tk.b", value.Value{}, value.Bin(nil)},
		}},
	}
	for _, tc := range cases {
		var sb strings.Builder
		sb.WriteString(TrackBanner)
		for _, e := range tc.evs {
			sb.WriteString(Event(e.Kind, e.Key, e.New, e.Old, tc.o))
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSuffix(sb.String(), "\n"), "\n") {
			if len(l) > 200 {
				l = l[:200] // record.sh cuts lines
			}
			got = append(got, l)
		}
		got = append(got, "exit 0")
		b, err := os.ReadFile(realDir + tc.file)
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:\n got %q\nwant %q", tc.file, got, want)
		}
	}
	if got := Event(99, "k", value.U8(1), value.Value{}, Options{}); got != "unknown change> " {
		t.Errorf("unknown event = %q", got)
	}
}

// Notify is one tracker event for TestTrackLines.
type Notify struct {
	Kind     int32
	Key      string
	New, Old value.Value
}
