package syncengine

import (
	"reflect"
	"testing"
)

// FuzzDecode checks that Decode never panics and that whatever it accepts
// survives a marshal/decode round trip.
func FuzzDecode(f *testing.F) {
	ring := RingID{Rep: 1, Seq: 9}
	build, _ := ServiceBuild{Ring: ring, Services: DefaultAnnounce()}.Marshal()
	set, _ := ServiceSet{Ring: ring, Services: []ServiceID{2, 5}}.Marshal()
	for _, b := range [][]byte{
		Barrier{Ring: ring}.Marshal(), build, set,
		ServiceChange{Ring: ring, Service: 2, Attached: true}.Marshal(),
		ServiceBarrier{Ring: ring, Service: 3}.Marshal(),
		{}, make([]byte, 16),
	} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		var again []byte
		switch m := m.(type) {
		case Barrier:
			again = m.Marshal()
		case ServiceBuild:
			again, err = m.Marshal()
		case ServiceSet:
			again, err = m.Marshal()
		case ServiceChange:
			again = m.Marshal()
		case ServiceBarrier:
			again = m.Marshal()
		case Unknown:
			return
		default:
			t.Fatalf("Decode returned %T", m)
		}
		if err != nil {
			t.Fatalf("re-encode %#v: %v", m, err)
		}
		m2, err := Decode(again)
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip: %#v -> %#v, %v", m, m2, err)
		}
	})
}

// FuzzEngineDeliver feeds arbitrary sync messages to an engine in the middle
// of a round: it must never panic, whatever the bytes and sender.
func FuzzEngineDeliver(f *testing.F) {
	ring := RingID{Rep: 1, Seq: 9}
	build, _ := ServiceBuild{Ring: ring, Services: []ServiceID{0, 2, 7}}.Marshal()
	f.Add(uint32(2), build)
	f.Add(uint32(1), Barrier{Ring: ring}.Marshal())
	f.Add(uint32(2), ServiceChange{Ring: ring, Service: 2}.Marshal())
	f.Add(uint32(3), ServiceBarrier{Ring: ring, Service: 2}.Marshal())
	f.Fuzz(func(t *testing.T, from uint32, b []byte) {
		e, err := New(Config{Self: 1, Announce: DefaultAnnounce()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.ServiceAttached(2); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ConfChange(Regular, []uint32{1, 2, 3}, ring); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			_, _ = e.Deliver(from, b)
			e.TokenSent()
			e.ServiceDone(2, 1)
		}
	})
}
