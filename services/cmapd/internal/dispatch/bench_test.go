package dispatch

import (
	"strconv"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/cmapwire"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/services/cmapd/internal/store"
)

func benchStore(b *testing.B) *store.Store {
	s := store.New()
	for i := 0; i < 300; i++ {
		s.Set("bench.key."+strconv.Itoa(i), value.U32(uint32(i)))
	}
	if err := s.Connect(1); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkGet is the daemon side of cmap_get_uint32: decode, look up, encode.
func BenchmarkGet(b *testing.B) {
	s := benchStore(b)
	msg := cmapwire.Get{Key: "bench.key.150", BufLen: 16}.Encode()
	b.ReportAllocs()
	for b.Loop() {
		Request(s, 1, msg)
	}
}

// BenchmarkSetTracked is cmap_set_uint32 with one prefix tracker to notify.
func BenchmarkSetTracked(b *testing.B) {
	s := benchStore(b)
	s.Connect(2)
	s.TrackAdd(2, "bench.", store.TrackModify|store.TrackPrefix, 1)
	msgs := [2][]byte{
		cmapwire.Set{Key: "bench.key.150", Type: value.Uint32, Value: []byte{1, 0, 0, 0}}.Encode(),
		cmapwire.Set{Key: "bench.key.150", Type: value.Uint32, Value: []byte{2, 0, 0, 0}}.Encode(),
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		Request(s, 1, msgs[i&1])
		i++
	}
}
