package load

import (
	"net/netip"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/needle-cluster/needle/libs/coroconf"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/services/cmapd/ctlfmt"
)

const (
	realDir  = "../../testdata/real/"
	probeDir = "../../testdata/probe/"
)

// loopbackEnv is the host of the recordings: one node on 127.0.0.1.
func loopbackEnv() coroconf.Env {
	return coroconf.Env{
		Hostname:       "probe-host",
		InterfaceAddrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")},
		LookupHost: func(name string) ([]netip.Addr, error) {
			a, err := netip.ParseAddr(name)
			return []netip.Addr{a}, err
		},
		LookupAddr: func(netip.Addr) string { return "" },
		ReadKey:    func(string) ([]byte, error) { return nil, os.ErrNotExist },
	}
}

// derive parses a config file and runs the totem derivation on it.
func derive(t *testing.T, file string) (parsed, derived coroconf.Map) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err = coroconf.Parse(file, data, coroconf.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	derived = make(coroconf.Map, len(parsed))
	for k, v := range parsed {
		derived[k] = v
	}
	if _, _, err := coroconf.ReadTotem(derived, loopbackEnv()); err != nil {
		t.Fatal(err)
	}
	return parsed, derived
}

func readListing(t *testing.T, file string) map[string]value.Value {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]value.Value)
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, err := ctlfmt.ParseLine(l)
		if err != nil {
			t.Fatal(err)
		}
		m[k] = v
	}
	return m
}

// TestInitialMatchesCorosync compares the start-up map with the map of a
// freshly started corosync 3.1.7 with the same file (record.sh), apart
// from what other daemons feed at runtime: membership, votequorum, and the
// values of the message counters.
func TestInitialMatchesCorosync(t *testing.T) {
	_, derived := derive(t, probeDir+"corosync.conf.in")
	got := Initial(derived)
	want := readListing(t, realDir+"default-dump.txt")
	runtimeFed := func(k string) bool {
		return strings.HasPrefix(k, "runtime.members.") || strings.HasPrefix(k, "runtime.votequorum.")
	}
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if runtimeFed(k) {
			continue
		}
		g, gok := got[k]
		w, wok := want[k]
		switch {
		case !gok:
			t.Errorf("missing %s (%s) = %s", k, w.Type.Name(), ctlfmt.Value(w))
		case !wok:
			t.Errorf("extra %s (%s) = %s", k, g.Type.Name(), ctlfmt.Value(g))
		case strings.HasPrefix(k, "runtime.services.") && !strings.HasSuffix(k, ".service_id"):
			if g.Type != w.Type {
				t.Errorf("%s: type %s, want %s", k, g.Type.Name(), w.Type.Name())
			}
		case !g.Equal(w):
			t.Errorf("%s = %s (%s), want %s (%s)", k, ctlfmt.Value(g), g.Type.Name(), ctlfmt.Value(w), w.Type.Name())
		}
	}
}

func TestInitialResourceDefaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		conf coroconf.Map
		key  string
		want value.Value
	}{
		{"watchdog from file as string is replaced", coroconf.Map{"resources.watchdog_timeout": value.Str("10")}, "resources.watchdog_timeout", value.U32(6)},
		{"watchdog u32 in range kept", coroconf.Map{"resources.watchdog_timeout": value.U32(10)}, "resources.watchdog_timeout", value.U32(10)},
		{"watchdog u32 out of range", coroconf.Map{"resources.watchdog_timeout": value.U32(121)}, "resources.watchdog_timeout", value.U32(6)},
		{"poll period number kept as string", coroconf.Map{"resources.system.load_15min.poll_period": value.Str("5000")}, "resources.system.load_15min.poll_period", value.Str("5000")},
		{"poll period garbage replaced", coroconf.Map{"resources.system.load_15min.poll_period": value.Str("x")}, "resources.system.load_15min.poll_period", value.U64(3000)},
	} {
		if got := Initial(tc.conf)[tc.key]; !got.Equal(tc.want) {
			t.Errorf("%s: %s = %v, want %v", tc.name, tc.key, got, tc.want)
		}
	}
}
