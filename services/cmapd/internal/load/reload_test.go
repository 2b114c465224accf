package load

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/needle-cluster/needle/libs/coroconf"
	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/services/cmapd/ctlfmt"
	"github.com/needle-cluster/needle/services/cmapd/internal/cfgver"
	"github.com/needle-cluster/needle/services/cmapd/internal/store"
)

// TestReloadMatchesCorosync replays four `corosync-cfgtool -R` runs that
// were recorded on corosync 3.1.7 with `corosync-cmapctl -T ""` watching
// (testdata/real/reload-trace*.txt; counters of other services filtered
// out): an unchanged file, an edited one, one that does not parse, and one
// whose interface change is refused.
func TestReloadMatchesCorosync(t *testing.T) {
	s := store.New()
	_, derived := derive(t, realDir+"reload-1.conf")
	for k, v := range Initial(derived) {
		if r := s.Set(k, v); r.Err != cs.OK {
			t.Fatal(k, r.Err)
		}
	}
	s.Set(cfgver.MemberKey(1), value.U64(0)) // membership and first sync did this
	if _, err := s.Track("", store.TrackAdd|store.TrackDelete|store.TrackModify|store.TrackPrefix, 1); err != cs.OK {
		t.Fatal(err)
	}
	const cfgverCookie = 2
	if _, err := s.Track(cfgver.Key, cfgver.TrackFlags, cfgverCookie); err != cs.OK {
		t.Fatal(err)
	}
	svc := cfgver.New(1)
	interfaceErr := errors.New("Cannot configure new interface definitions: To reconfigure an interface it must be " +
		"deleted and recreated. A working interface needs to be available to corosync at all times")

	var logs []string
	for _, tc := range []struct {
		conf    string
		invalid error
		trace   string
		status  cs.Error
	}{
		{"reload-1.conf", nil, "reload-trace1.txt", cs.OK},
		{"reload-2.conf", nil, "reload-trace2.txt", cs.OK},
		{"reload-2.conf+broken", nil, "reload-trace3.txt", cs.ErrInvalidParam},
		{"reload-4.conf", interfaceErr, "reload-trace4.txt", cs.ErrInvalidParam},
	} {
		var lines []string
		var pending [][]byte // config_version announcements, delivered after the reload
		apply := func(steps []Step) {
			evs, errs := Apply(s, steps)
			if len(errs) > 0 {
				t.Fatalf("%s: %+v", tc.conf, errs)
			}
			for _, e := range evs {
				switch e.Cookie {
				case cfgverCookie:
					v, ok := s.Get(cfgver.Key)
					pending = append(pending, svc.ConfigVersionChanged(v, ok))
				default:
					lines = append(lines, strings.TrimSuffix(ctlfmt.Event(e.Kind, e.Key, e.New, e.Old, ctlfmt.Options{}), "\n"))
				}
			}
		}
		apply([]Step{ReloadBegin()})
		var plan Plan
		if strings.HasSuffix(tc.conf, "+broken") {
			data, _ := os.ReadFile(realDir + strings.TrimSuffix(tc.conf, "+broken"))
			_, err := coroconf.Parse("corosync.conf", append(data, "totem {\n"...), coroconf.LoadOptions{})
			if err == nil {
				t.Fatal("broken file parsed")
			}
			plan = ReloadParseFailed(err)
		} else {
			parsed, derived := derive(t, realDir+tc.conf)
			if tc.invalid != nil {
				derived = nil
			}
			plan = Reload(s, parsed, derived, tc.invalid, ReloadOptions{CryptoReconf: true})
		}
		apply(plan.Steps)
		for _, m := range pending {
			key, v, ok, err := svc.Deliver(1, m, false)
			if err != nil || !ok {
				t.Fatal(err)
			}
			apply([]Step{{Key: key, Value: v}})
		}
		logs = append(logs, plan.Log...)
		if plan.Status != tc.status {
			t.Errorf("%s: status %v, want %v", tc.conf, plan.Status, tc.status)
		}
		b, err := os.ReadFile(realDir + tc.trace)
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")[1:] // after the banner
		if strings.Join(lines, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: events\n got %q\nwant %q", tc.conf, lines, want)
		}
	}
	// The log lines corosync printed (without the parser message, whose
	// file name differs, which is coroconf's business).
	var want []string
	b, _ := os.ReadFile(realDir + "reload-log.txt")
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if _, msg, ok := strings.Cut(l, "[CFG   ] "); ok && (strings.HasPrefix(msg, "Modified entry") || strings.HasPrefix(msg, "Cannot configure")) {
			want = append(want, msg)
		}
	}
	if len(want) != 3 {
		t.Fatalf("reload-log.txt has %d relevant lines, want 3", len(want))
	}
	var got []string
	for _, l := range logs {
		if !strings.HasPrefix(l, "Unable to reload config file: ") {
			got = append(got, l)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("log\n got %q\nwant %q", got, want)
	}
}

func TestFixedKeys(t *testing.T) {
	s := store.New()
	s.Set("totem.cluster_name", value.Str("a"))
	s.Set("totem.secauth", value.Str("off"))
	parsed := coroconf.Map{
		"totem.cluster_name": value.Str("a"),   // unchanged: copied silently
		"totem.secauth":      value.Str("on"),  // crypto: fixed only without reconf
		"totem.threads":      value.U32(2),     // new fixed key: dropped too
		"logging.debug":      value.Str("off"), // free
	}
	for _, tc := range []struct {
		o    ReloadOptions
		logs int
		keys []string
	}{
		{ReloadOptions{CryptoReconf: true}, 1, []string{"logging.debug", "totem.cluster_name", "totem.secauth"}},
		{ReloadOptions{}, 2, []string{"logging.debug", "totem.cluster_name"}},
	} {
		p := Reload(s, parsed, coroconf.Map{}, nil, tc.o)
		if len(p.Log) != tc.logs {
			t.Errorf("%+v: log %q", tc.o, p.Log)
		}
		var keys []string
		for _, st := range p.Steps {
			if !strings.HasPrefix(st.Key, "config.") {
				keys = append(keys, st.Key)
			}
		}
		if strings.Join(keys, " ") != strings.Join(tc.keys, " ") {
			t.Errorf("%+v: copies %v, want %v", tc.o, keys, tc.keys)
		}
	}
}
