package nsscrypto

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReplayWindow drives the window through the cases the package doc
// names: in order, reordered within the window, duplicate, too old, a new
// epoch, an old epoch after a new one, and the two streams of one sender.
func TestReplayWindow(t *testing.T) {
	a, ag, b := streamKey{sender: 1}, streamKey{sender: 1, group: true}, streamKey{sender: 2}
	type step struct {
		k          streamKey
		epoch, seq uint64
		want       error // nil: accepted
		why        string
		at         time.Duration // arrival, after the test's start
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"in order", []step{{a, 5, 1, nil, "first", 0}, {a, 5, 2, nil, "", 0}, {a, 5, 3, nil, "", 0}, {a, 5, 4, nil, "", 0}}},
		{"first datagram may start anywhere", []step{{a, 5, 900, nil, "trust on first use", 0}, {a, 5, 902, nil, "", 0}, {a, 5, 901, nil, "reordered", 0}}},
		{"nothing from before the first", []step{{a, 5, 900, nil, "", 0}, {a, 5, 899, ErrReplay, "sent before this node listened", 0}, {a, 5, 1, ErrReplay, "", 0}, {a, 5, 901, nil, "", 0}}},
		{"late", []step{
			{a, 5, 1, nil, "", 0}, {a, 5, 3, nil, "", 0}, {a, 5, 5, nil, "", 100 * time.Millisecond},
			{a, 5, 4, nil, "reordered just under MaxLate", 100*time.Millisecond + MaxLate - 1},
			{a, 5, 2, ErrReplay, "lost one turning up at MaxLate", 100*time.Millisecond + MaxLate},
			{a, 5, 6, nil, "newer: the clock restarts", 10 * time.Second}, {a, 5, 2, nil, "within MaxLate of the newest again", 10*time.Second + MaxLate/2},
		}},
		{"reordered within the window", []step{
			{a, 5, 10, nil, "", 0}, {a, 5, 14, nil, "gap", 0}, {a, 5, 12, nil, "late", 0}, {a, 5, 11, nil, "late", 0},
			{a, 5, 13, nil, "late", 0}, {a, 5, 12, ErrReplay, "late twice", 0}, {a, 5, 15, nil, "", 0},
		}},
		{"duplicate", []step{{a, 5, 1, nil, "", 0}, {a, 5, 1, ErrReplay, "same", 0}, {a, 5, 2, nil, "", 0}, {a, 5, 2, ErrReplay, "newest again", 0}, {a, 5, 1, ErrReplay, "older again", 0}}},
		{"window edge", []step{
			{a, 5, 1, nil, "", 0}, {a, 5, WindowSize, nil, "jump to the last seq that keeps 1", 0},
			{a, 5, 1, ErrReplay, "seen", 0}, {a, 5, 2, nil, "oldest still inside", 0},
			{a, 5, WindowSize + 2, nil, "1 and 2 fall out", 0}, {a, 5, 2, ErrReplay, "too old", 0}, {a, 5, 3, nil, "inside, unseen", 0},
		}},
		{"too old", []step{{a, 5, 1, nil, "", 0}, {a, 5, 5000, nil, "", 0}, {a, 5, 5000 - WindowSize, ErrReplay, "exactly one window behind", 0}, {a, 5, 1, ErrReplay, "far behind", 0}, {a, 5, 5000 - WindowSize + 1, nil, "last slot", 0}}},
		{"big jump clears the window", []step{{a, 5, 1, nil, "", 0}, {a, 5, 2, nil, "", 0}, {a, 5, 1 + 3*WindowSize, nil, "jump", 0}, {a, 5, 2 + 2*WindowSize, nil, "same slot as 2, unseen", 0}, {a, 5, 1 + 3*WindowSize, ErrReplay, "newest again", 0}}},
		{"new epoch restarts the sequence", []step{{a, 5, 700, nil, "", 0}, {a, 5, 701, nil, "", 0}, {a, 9, 1, nil, "restart", 0}, {a, 9, 2, nil, "", 0}, {a, 9, 1, ErrReplay, "dup in new epoch", 0}}},
		{"old epoch after new", []step{{a, 5, 1, nil, "", 0}, {a, 9, 1, nil, "restart", 0}, {a, 5, 2, ErrReplay, "previous life, fresh seq", 0}, {a, 5, 1_000_000, ErrReplay, "previous life, far ahead", 0}, {a, 9, 2, nil, "", 0}}},
		{"previous life before the new one was heard", []step{
			{a, 5, 8, nil, "", 0}, {a, 5, 10, nil, "", 0}, {a, 5, 9, nil, "unseen old-life datagram in the window, not late yet: the documented limit", 0},
			{a, 5, 10, ErrReplay, "seen old-life datagram", 0}, {a, 9, 1, nil, "new life", 0}, {a, 5, 11, ErrReplay, "old life is dead now", 0},
		}},
		{"streams are independent", []step{
			{a, 5, 3, nil, "", 0}, {b, 5, 3, nil, "other sender, same numbers", 0}, {ag, 5, 3, nil, "same sender, group stream", 0},
			{ag, 5, 3, ErrReplay, "", 0}, {b, 4, 4, ErrReplay, "b's epoch is 5", 0}, {a, 6, 1, nil, "a restarts", 0}, {ag, 5, 4, nil, "group stream keeps its own epoch", 0},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w replayWindow
			t0 := time.Now()
			for i, st := range tc.steps {
				err := w.check(st.k, st.epoch, st.seq, t0.Add(st.at))
				if !errors.Is(err, st.want) || (st.want == nil) != (err == nil) {
					t.Fatalf("step %d (%s) %+v epoch %d seq %d: %v, want %v", i, st.why, st.k, st.epoch, st.seq, err, st.want)
				}
				if err == nil {
					w.accept(st.k, st.epoch, st.seq, t0.Add(st.at))
				}
			}
		})
	}
}

func TestReplayWindowAcceptWithoutCheckPanics(t *testing.T) {
	var w replayWindow
	k := streamKey{sender: 1}
	w.accept(k, 1, 1, now())
	defer func() {
		if recover() == nil {
			t.Fatal("accepting a duplicate did not panic")
		}
	}()
	w.accept(k, 1, 1, now())
}

func TestReplayWindowBoundsStreams(t *testing.T) {
	var w replayWindow
	for i := range maxStreams {
		w.accept(streamKey{sender: uint32(i)}, 1, 1, now())
	}
	if err := w.check(streamKey{sender: maxStreams}, 1, 1, now()); !errors.Is(err, ErrTooMany) {
		t.Fatalf("stream %d: %v, want ErrTooMany", maxStreams+1, err)
	}
	if err := w.check(streamKey{sender: 3}, 1, 2, now()); err != nil {
		t.Fatalf("known stream refused at the bound: %v", err)
	}
}

// TestOpenRejectsReplays runs the window through Seal and Open: a
// datagram opens once, a copy is refused with ErrReplay, a datagram sealed
// for another node with ErrMisdirected, a restarted sender's new epoch is
// taken and its old life refused from then on.
func TestOpenRejectsReplays(t *testing.T) {
	for _, su := range []Suite{{CipherAES256, HashSHA256}, {CipherNone, HashSHA384}, {Cipher3DES, HashMD5}} {
		t.Run(su.String(), func(t *testing.T) {
			k := mustKeys(t, su, testKey(40))
			o2, o3 := k.NewOpener(2), k.NewOpener(3)
			s := k.NewSealer(seeded(40), 1, 100)
			seal := func(s *Sealer, to uint32, frame string) []byte {
				t.Helper()
				dg, err := s.Seal(nil, []byte(frame), to)
				if err != nil {
					t.Fatal(err)
				}
				return dg
			}
			open := func(o *Opener, dg []byte, want error) {
				t.Helper()
				_, err := o.Open(nil, dg, now())
				if !errors.Is(err, want) || (want == nil) != (err == nil) {
					t.Fatalf("open: %v, want %v", err, want)
				}
			}
			j1, j2, j3 := seal(s, 2, "join 1"), seal(s, 2, "join 2"), seal(s, 2, "join 3")
			open(o2, j1, nil)
			open(o2, j3, nil)
			open(o2, j2, nil) // reordered
			open(o2, j1, ErrReplay)
			open(o2, j2, ErrReplay)
			open(o2, j3, ErrReplay)
			open(o3, j1, ErrMisdirected) // sealed for node 2
			g := seal(s, 0, "to every member")
			open(o2, g, nil)
			open(o3, g, nil)
			open(o3, g, ErrReplay)

			restarted := k.NewSealer(seeded(41), 1, 101)
			r1 := seal(restarted, 2, "join after restart")
			old := seal(s, 2, "a datagram of the old life never delivered")
			open(o2, r1, nil)
			open(o2, old, ErrReplay)
			_, org, err := o2.OpenFrom(nil, seal(restarted, 2, "x"), now())
			if err != nil || org != (Origin{Sender: 1, To: 2, Epoch: 101, Seq: 2}) {
				t.Fatalf("origin %+v, %v", org, err)
			}
			if _, err := o2.Open(nil, old, now()); err == nil || !strings.Contains(err.Error(), "node 1: epoch 100 is older than its current epoch 101") {
				t.Fatalf("message: %v", err)
			}
		})
	}
}

// TestOpenRecordsOnlyWhatItAccepts: a datagram that fails after the window
// check (bad padding under a valid HMAC) leaves no trace, so the genuine
// datagram with the same sequence number still opens.
func TestOpenRecordsOnlyWhatItAccepts(t *testing.T) {
	su := Suite{CipherAES128, HashSHA256}
	k := mustKeys(t, su, testKey(42))
	good, err := k.NewSealer(seeded(42), 1, 1).Seal(nil, make([]byte, 15), 2)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), good...)
	body := bad[28 : len(bad)-32]
	iv, ct := body[:16], body[16:]
	pt := make([]byte, 16)
	k.block.Decrypt(pt, ct) // CBC: plaintext = D(ct) xor IV; make its pad byte 0
	for i := range pt {
		pt[i] ^= iv[i]
	}
	pt[15] = 0
	for i := range pt {
		pt[i] ^= iv[i]
	}
	k.block.Encrypt(ct, pt)
	m := k.newMAC()
	m.Write(bad[:len(bad)-32])
	copy(bad[len(bad)-32:], m.Sum(nil))
	o := k.NewOpener(2)
	if _, err := o.Open(nil, bad, now()); !errors.Is(err, ErrPadding) {
		t.Fatalf("bad padding: %v", err)
	}
	if _, err := o.Open(nil, good, now()); err != nil {
		t.Fatalf("genuine datagram after a failed one with its sequence: %v", err)
	}
}

func TestNoneHasNoReplayState(t *testing.T) {
	k := mustKeys(t, Suite{}, nil)
	o := k.NewOpener(2)
	frame := []byte{0x70, 0xc0, 3, 0}
	for range 3 {
		if got, err := o.Open(nil, frame, now()); err != nil || string(got) != string(frame) {
			t.Fatalf("none/none: % x, %v", got, err)
		}
	}
}

func TestNextEpoch(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "epoch")
	t0 := time.Unix(1_800_000_000, 0)
	e1, err := NextEpoch(p, t0)
	if err != nil || e1 != uint64(t0.UnixNano()) {
		t.Fatalf("first start: %d, %v", e1, err)
	}
	e2, err := NextEpoch(p, t0.Add(time.Hour))
	if err != nil || e2 != uint64(t0.Add(time.Hour).UnixNano()) {
		t.Fatalf("later start: %d, %v", e2, err)
	}
	// The clock went back a day: the file keeps the epoch growing.
	e3, err := NextEpoch(p, t0.Add(-24*time.Hour))
	if err != nil || e3 != e2+1 {
		t.Fatalf("clock went back: %d, %v, want %d", e3, err, e2+1)
	}
	// Same instant twice (a coarse clock): still growing.
	e4, _ := NextEpoch(p, t0.Add(-24*time.Hour))
	if e4 != e3+1 {
		t.Fatalf("same instant: %d, want %d", e4, e3+1)
	}
	// A lost state directory: the clock alone.
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if e, err := NextEpoch(p, t0.Add(2*time.Hour)); err != nil || e <= e4 {
		t.Fatalf("after losing the file: %d, %v", e, err)
	}
	// A corrupt file is reported; the clock still gives a usable epoch.
	if err := os.WriteFile(p, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if e, err := NextEpoch(p, t0.Add(3*time.Hour)); err == nil || e != uint64(t0.Add(3*time.Hour).UnixNano()) || !strings.Contains(err.Error(), "crypto epoch: "+p) {
		t.Fatalf("corrupt file: %d, %v", e, err)
	}
	// An unwritable place is reported too.
	if _, err := NextEpoch(filepath.Join(dir, "missing", "epoch"), t0); err == nil {
		t.Fatal("no error for a file in a missing directory")
	}
}
