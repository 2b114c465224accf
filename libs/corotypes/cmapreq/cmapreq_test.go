package cmapreq

import (
	"bytes"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/cmapwire"
	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
)

func TestSplit(t *testing.T) {
	set := cmapwire.Set{Key: "runtime.x", Type: value.Uint8, Value: []byte{1}}.Encode()
	del := cmapwire.Delete{Key: "runtime.y"}.Encode()
	cases := []struct {
		name string
		in   []byte
		want int
		ok   bool
	}{
		{"one", set, 1, true},
		{"three", Batch(set, Reload(), del), 3, true},
		{"empty", nil, 0, false},
		{"short header", set[:10], 0, false},
		{"truncated", Batch(set, del[:100]), 0, false},
		{"size below header", func() []byte { b := bytes.Clone(del); ne.PutUint32(b[8:], 4); return b }(), 0, false},
	}
	for _, c := range cases {
		got, err := Split(c.in, cmapwire.ReqHeaderSize)
		if (err == nil) != c.ok || len(got) != c.want {
			t.Errorf("%s: got %d messages, err %v", c.name, len(got), err)
		}
	}
}

func TestReloadReply(t *testing.T) {
	b := ReloadReply(cs.ErrInvalidParam, []string{"a", "bc"})
	h, err := cmapwire.DecodeRespHeader(b)
	if err != nil || h.ID != ReqReload || h.Error != cs.ErrInvalidParam || string(b[24:]) != "a\nbc\n" {
		t.Fatalf("reply %q: %+v %v", b, h, err)
	}
}

func FuzzSplit(f *testing.F) {
	f.Add(Batch(Reload(), cmapwire.Delete{Key: "abc"}.Encode()))
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, err := Split(b, cmapwire.ReqHeaderSize)
		if err != nil {
			return
		}
		n := 0
		for _, m := range ms {
			n += len(m)
		}
		if n != len(b) {
			t.Fatalf("split %d bytes into %d", len(b), n)
		}
	})
}

func TestPutStats(t *testing.T) {
	ks := TotemStats()
	if len(ks) != 2+24+2+1+3 {
		t.Fatalf("%d totem stats", len(ks))
	}
	b := PutStats(map[string]value.Value{"stats.srp.mcast_tx": value.U64(3), "stats.pg.msg_reserved": value.U32(1)})
	ms, err := Split(b, cmapwire.ReqHeaderSize)
	if err != nil || len(ms) != 3 {
		t.Fatalf("%d messages, %v", len(ms), err)
	}
	r, err := cmapwire.DecodeRequest(ms[1])
	if err != nil || r.(cmapwire.Set).Key != "stats.pg.msg_reserved" {
		t.Fatalf("second message %+v %v", r, err)
	}
}
