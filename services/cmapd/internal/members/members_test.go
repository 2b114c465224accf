package members

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/needle-cluster/needle/services/cmapd/ctlfmt"
	"github.com/needle-cluster/needle/services/cmapd/internal/load"
	"github.com/needle-cluster/needle/services/cmapd/internal/store"
)

func TestIfacesString(t *testing.T) {
	a := netip.MustParseAddr
	for _, tc := range []struct {
		addrs []netip.Addr
		want  string
	}{
		{[]netip.Addr{a("127.0.0.1")}, "r(0) ip(127.0.0.1) "}, // as recorded in default-dump.txt
		{[]netip.Addr{a("10.0.0.1"), {}, a("fd00::2")}, "r(0) ip(10.0.0.1) r(2) ip(fd00::2) "},
		{nil, "no interface found for nodeid"},
	} {
		if got := IfacesString(tc.addrs); got != tc.want {
			t.Errorf("IfacesString(%v) = %q, want %q", tc.addrs, got, tc.want)
		}
	}
}

func TestConfChg(t *testing.T) {
	s := store.New()
	s.Track("runtime.members.", store.TrackAdd|store.TrackModify|store.TrackDelete|store.TrackPrefix, 1)
	var lines []string
	step := func(left []uint32, joined []Joined) {
		evs, errs := load.Apply(s, ConfChg(s, left, joined))
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		for _, e := range evs {
			lines = append(lines, strings.TrimSuffix(ctlfmt.Event(e.Kind, e.Key, e.New, e.Old, ctlfmt.Options{}), "\n"))
		}
	}
	lo := []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	two := []netip.Addr{netip.MustParseAddr("127.0.0.2")}
	step(nil, []Joined{{1, lo}})
	step(nil, []Joined{{2, two}})
	step([]uint32{2}, nil)
	step(nil, []Joined{{2, two}})
	want := []string{
		"create> runtime.members.1.ip (str) = r(0) ip(127.0.0.1) ",
		"create> runtime.members.1.join_count (u32) = 1",
		"create> runtime.members.1.status (str) = joined",
		"create> runtime.members.2.ip (str) = r(0) ip(127.0.0.2) ",
		"create> runtime.members.2.join_count (u32) = 1",
		"create> runtime.members.2.status (str) = joined",
		"modify> runtime.members.2.status (str) = left",
		"modify> runtime.members.2.join_count (u32) = 2",
		"modify> runtime.members.2.status (str) = joined",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("events\n got %q\nwant %q", lines, want)
	}
}
