package cmapreq

import (
	"reflect"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
)

func TestTrackRoundTrip(t *testing.T) {
	p, err := DecodeTrack(Track("quorum."))
	if err != nil || p != "quorum." {
		t.Fatalf("track prefix %q %v", p, err)
	}
	es := []Entry{
		{Key: "quorum.provider", Value: value.Str("corosync_votequorum")},
		{Key: "quorum.expected_votes", Value: value.U32(3)},
		{Key: "quorum.two_node", Deleted: true},
		{Key: "quorum.bin", Value: value.Bin(nil)},
	}
	st, got, err := DecodeTrackReply(TrackReply(cs.ErrTryAgain, es))
	if err != nil || st != cs.ErrTryAgain || !reflect.DeepEqual(got, es) {
		t.Fatalf("track reply: %v %v %+v", st, err, got)
	}
	n, err := DecodeNotification(Changed(es))
	if err != nil || n.Hello || !reflect.DeepEqual(n.Changes, es) {
		t.Fatalf("changed: %v %+v", err, n)
	}
	if n, err := DecodeNotification(Hello()); err != nil || !n.Hello {
		t.Fatalf("hello: %v %+v", err, n)
	}
}

func TestDecodeEntriesRefuses(t *testing.T) {
	good := Changed([]Entry{{Key: "a.b", Value: value.U16(7)}})[16:]
	cases := map[string][]byte{
		"short header":       good[:5],
		"key past the end":   append(append([]byte{}, good[:2]...), 0xff, 0x00, 2, 0, 0, 0),
		"empty key":          {0, 4, 0, 0, 2, 0, 0, 0, 1, 2},
		"value past the end": good[:len(good)-1],
		"bad flags":          append([]byte{2}, good[1:]...),
		"wrong size":         {0, 4, 1, 0, 3, 0, 0, 0, 'k', 1, 2, 3},
		"deleted with value": {1, 4, 1, 0, 2, 0, 0, 0, 'k', 1, 2},
		"huge value length":  {0, 12, 1, 0, 0xff, 0xff, 0xff, 0xff, 'k'},
	}
	for name, b := range cases {
		if _, err := DecodeEntries(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzDecodeNotification(f *testing.F) {
	f.Add(Changed([]Entry{{Key: "uidgid.gid.5", Value: value.U8(1)}, {Key: "x.y", Deleted: true}}))
	f.Add(Hello())
	f.Add(TrackReply(cs.OK, []Entry{{Key: "k.k", Value: value.Str("v")}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if n, err := DecodeNotification(b); err == nil && !n.Hello {
			again, err := DecodeNotification(Changed(n.Changes))
			if err != nil || !reflect.DeepEqual(again.Changes, n.Changes) {
				t.Fatalf("re-encoding changed the entries: %v", err)
			}
		}
		_, _, _ = DecodeTrackReply(b)
	})
}
