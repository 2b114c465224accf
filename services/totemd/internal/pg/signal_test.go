package pg

import "testing"

// TestSendSignals: every Send tells srp a message is waiting (as totempg
// signals totemsrp), so a representative holding the token on an idle
// ring releases it at once instead of at the end of the hold.
func TestSendSignals(t *testing.T) {
	signals := 0
	p, err := NewPacker(Config{Mcast: func([]byte) error { return nil }, Avail: func() int { return 100 },
		Signal: func() { signals++ }})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := p.Send([]string{"a"}, []byte("hello")); err != nil {
			t.Fatal(err)
		}
		if signals != i+1 {
			t.Fatalf("%d signals after %d sends", signals, i+1)
		}
	}
}
