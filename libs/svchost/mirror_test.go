package svchost

import (
	"slices"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/value"
)

func TestMirrorEvents(t *testing.T) {
	m := NewMirror()
	var quorum, all [][]string
	m.Watch("quorum.", func(ch []string) { quorum = append(quorum, ch) })
	m.Watch("", func(ch []string) { all = append(all, ch) })

	m.Replace("quorum.", map[string]value.Value{"quorum.provider": value.Str("corosync_votequorum"), "quorum.wait_for_all": value.U8(1)})
	m.Replace("nodelist.", map[string]value.Value{"nodelist.node.0.nodeid": value.U32(1)})
	m.Apply([]Change{{Key: "quorum.wait_for_all", Value: value.U8(1)}}) // no change
	m.Apply([]Change{{Key: "quorum.wait_for_all", Deleted: true}, {Key: "nodelist.node.0.nodeid", Value: value.U32(2)}})
	m.Replace("quorum.", map[string]value.Value{"quorum.provider": value.Str("corosync_votequorum"), "quorum.two_node": value.U8(1)})

	want := [][]string{
		{"quorum.provider", "quorum.wait_for_all"},
		{"quorum.wait_for_all"},
		{"quorum.two_node"},
	}
	if !slices.EqualFunc(quorum, want, slices.Equal) {
		t.Errorf("quorum. events %v, want %v", quorum, want)
	}
	if len(all) != 4 {
		t.Errorf("all events %v, want 4 calls", all)
	}
	if v, ok := m.Get("nodelist.node.0.nodeid"); !ok || !v.Equal(value.U32(2)) {
		t.Errorf("nodeid %v %v", v, ok)
	}
	if got := m.Keys("quorum."); !slices.Equal(got, []string{"quorum.provider", "quorum.two_node"}) {
		t.Errorf("keys %v", got)
	}
}

func TestUIDGIDRules(t *testing.T) {
	m := NewMirror()
	u := UIDGID{Keys: m}
	cases := []struct {
		key      string
		v        value.Value
		uid, gid uint32
		want     bool
	}{
		{"", value.Value{}, 1000, 1000, false},
		{"uidgid.gid.1000", value.U8(1), 5, 1000, true},
		{"uidgid.uid.1000", value.U8(1), 1000, 5, true},
		{"uidgid.config.gid.7", value.U8(1), 5, 7, true},
		{"uidgid.config.uid.7", value.U8(1), 7, 5, true},
		{"uidgid.uid.9", value.U8(2), 9, 9, false},
		{"uidgid.uid.9", value.U32(1), 9, 9, false},
	}
	for _, c := range cases {
		m.Replace("uidgid.", nil)
		if c.key != "" {
			m.Apply([]Change{{Key: c.key, Value: c.v}})
		}
		if got := u.Allowed(c.uid, c.gid); got != c.want {
			t.Errorf("%s=%v: %d:%d allowed %v, want %v", c.key, c.v, c.uid, c.gid, got, c.want)
		}
	}
}
