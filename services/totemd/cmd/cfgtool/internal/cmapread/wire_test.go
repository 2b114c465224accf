package cmapread

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
)

// loadExchange reads testdata/cmap-cfgtool-s.txt: the cmap requests libcmap
// sent for corosync-cfgtool -s and real corosync's answers.
func loadExchange(t testing.TB) (reqs, resps [][]byte) {
	f, err := os.Open("testdata/cmap-cfgtool-s.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 || fields[0] != "cmap" {
			continue
		}
		b, err := hex.DecodeString(fields[2])
		if err != nil {
			t.Fatal(err)
		}
		if fields[1] == "req" {
			reqs = append(reqs, b)
		} else {
			resps = append(resps, b)
		}
	}
	return reqs, resps
}

func TestRealExchange(t *testing.T) {
	reqs, resps := loadExchange(t)
	if len(reqs) != len(resps) || len(reqs) < 8 {
		t.Fatalf("%d requests, %d responses", len(reqs), len(resps))
	}
	// The requests we build equal libcmap's where libcmap zeroes them.
	probe, _ := encodeGet("totem.transport", 0)
	read, _ := encodeGet("totem.transport", 5)
	nodeid, _ := encodeGet("nodelist.node.0.nodeid", typedBuf)
	initNodes, _ := encodeIterInit("nodelist.node.")
	for i, want := range map[int][]byte{0: probe, 1: read, 2: initNodes, 4: nodeid} {
		if !bytes.Equal(reqs[i], want) {
			t.Errorf("request %d:\n got %x\nwant %x", i, want, reqs[i])
		}
	}
	r, err := decodeGet(resps[0])
	if err != nil || r.typ != typeString || r.stored != 5 || len(r.value) != 0 {
		t.Fatalf("probe: %+v, %v", r, err)
	}
	r, err = decodeGet(resps[1])
	if err != nil || cString(r.value) != "udpu" {
		t.Fatalf("transport: %+v, %v", r, err)
	}
	h, err := decodeIterInit(resps[2])
	if err != nil || h != le.Uint64(reqs[3][16:]) {
		t.Fatalf("iter init: %x, %v", h, err)
	}
	if k, err := decodeIterNext(resps[3]); err != nil || k != "nodelist.node.0.nodeid" {
		t.Fatalf("iter next: %q, %v", k, err)
	}
	if r, err := decodeGet(resps[4]); err != nil || r.typ != typeUint32 || le.Uint32(r.value) != 1 {
		t.Fatalf("nodeid: %+v, %v", r, err)
	}
	var end error
	for _, b := range resps {
		if int32(le.Uint32(b)) == respIterNext {
			_, end = decodeIterNext(b)
		}
	}
	if !errors.Is(end, cs.ErrNoSections) {
		t.Fatalf("last iter next: %v", end)
	}
}

func TestDecodeErrors(t *testing.T) {
	for name, b := range map[string][]byte{
		"short":      {1, 2},
		"wrong id":   make([]byte, 304),
		"cut get":    append(append([]byte{2, 0, 0, 0, 0, 0, 0, 0, 30, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}, make([]byte, 4)...), make([]byte, 6)...),
		"error code": {2, 0, 0, 0, 0, 0, 0, 0, 24, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0},
	} {
		if _, err := decodeGet(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	if _, err := encodeGet(strings.Repeat("k", 256), 0); !errors.Is(err, cs.ErrNameTooLong) {
		t.Errorf("long key: %v", err)
	}
}

// FuzzDecode: responses from a server decode or fail without panicking.
func FuzzDecode(f *testing.F) {
	_, resps := loadExchange(f)
	for _, b := range resps {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := decodeGet(b); err == nil && uint64(len(r.value)) > r.stored {
			t.Fatalf("value of %d bytes, stored length %d", len(r.value), r.stored)
		}
		decodeIterInit(b)
		decodeIterNext(b)
	})
}
