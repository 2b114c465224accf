package wire

import (
	"reflect"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
)

// Every decoder of client or daemon bytes: no panic on any input, and what
// decodes re-encodes to the same bytes (padding aside, so the re-encoding
// is decoded again and compared).

func FuzzDecodeQRequest(f *testing.F) {
	for _, r := range []QRequest{QGetQuorate{}, QTrackStart{Flags: 3}, QTrackStop{}, QGetType{}, QModelGetType{Model: 1}} {
		f.Add(r.Encode())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeQRequest(b)
		if err != nil {
			return
		}
		r2, err := DecodeQRequest(r.Encode())
		if err != nil || r2 != r {
			t.Fatalf("re-encode of %#v: %#v %v", r, r2, err)
		}
	})
}

func FuzzDecodeVQRequest(f *testing.F) {
	for _, r := range []VQRequest{VQGetInfo{1}, VQSetExpected{3}, VQSetVotes{1, 2}, VQTrackStart{1, 2}, VQTrackStop{},
		VQQdeviceRegister{"a"}, VQQdeviceUnregister{"a"}, VQQdeviceUpdate{"a", "b"}, VQQdevicePoll{"a", 1, RingID{1, 2}}, VQQdeviceMasterWins{"a", 1}} {
		f.Add(r.Encode())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeVQRequest(b)
		if err != nil {
			return
		}
		r2, err := DecodeVQRequest(r.Encode())
		if err != nil || r2 != r {
			t.Fatalf("re-encode of %#v: %#v %v", r, r2, err)
		}
	})
}

func FuzzDecodeQEvent(f *testing.F) {
	f.Add(QNotification{1, 2, []uint32{1, 2}}.Encode())
	f.Add(QV1Quorum{1, RingID{1, 2}, []uint32{1}}.Encode())
	f.Add(QV1Nodelist{RingID{1, 2}, []uint32{1, 2}, []uint32{2}, []uint32{3}}.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := DecodeQEvent(b)
		if err != nil {
			return
		}
		enc := ev.(interface{ Encode() []byte }).Encode()
		if len(enc) != len(b) {
			t.Fatalf("%#v re-encodes to %d bytes, decoded from %d", ev, len(enc), len(b))
		}
		ev2, err := DecodeQEvent(enc)
		if err != nil || !reflect.DeepEqual(normalize(ev2), normalize(ev)) {
			t.Fatalf("round trip of %#v: %#v %v", ev, ev2, err)
		}
	})
}

func FuzzDecodeVQEvent(f *testing.F) {
	f.Add(VQQuorum{1, 2, []VQNode{{1, 1}}}.Encode())
	f.Add(VQExpectedVotes{1, 3}.Encode())
	f.Add(VQNodelist{1, RingID{1, 2}, []uint32{1, 2}}.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := DecodeVQEvent(b)
		if err != nil {
			return
		}
		enc := ev.(interface{ Encode() []byte }).Encode()
		if len(enc) != len(b) {
			t.Fatalf("%#v re-encodes to %d bytes, decoded from %d", ev, len(enc), len(b))
		}
		ev2, err := DecodeVQEvent(enc)
		if err != nil || !reflect.DeepEqual(normalize(ev2), normalize(ev)) {
			t.Fatalf("round trip of %#v: %#v %v", ev, ev2, err)
		}
	})
}

func FuzzDecodeReplies(f *testing.F) {
	f.Add(EncodeQValue(QResGetQuorate, 1, cs.OK))
	f.Add(EncodeQStatus(QResTrackStart, cs.ErrExist))
	f.Add(EncodeVQGetInfo(VQInfo{NodeID: 1, QdeviceName: "q"}, cs.OK))
	f.Add(EncodeVQStatus(cs.OK))
	f.Add(GenericError(cs.ErrInvalidParam))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, id := range []int32{QResGetQuorate, QResGetType, QResModelGetType} {
			DecodeQValue(b, id)
		}
		DecodeQStatus(b, QResTrackStart)
		DecodeVQStatus(b)
		if i, st, err := DecodeVQGetInfo(b); err == nil && len(b) == 320 {
			if i2, st2, err := DecodeVQGetInfo(EncodeVQGetInfo(i, st)); err != nil || i2 != i || st2 != st {
				t.Fatalf("getinfo round trip: %#v %v -> %#v %v %v", i, st, i2, st2, err)
			}
		}
	})
}
