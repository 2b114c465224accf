package store

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// The stats map of the recorded idle node: the static keys plus one
// connection (the listing tool itself).
func TestStatsKeysMatchRecording(t *testing.T) {
	f, err := os.Open(realDir + "cmapctl-stats-track-prefix.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []string
	for _, k := range ConnStats(0, 0, "X") {
		got = append(got, strings.TrimPrefix(k.Key, "stats.ipcs.service0.0.X.")+" ("+k.Type.Name()+")")
	}
	var want []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if rest, ok := strings.CutPrefix(l, "create> stats.ipcs.service0.PID.PTR."); ok {
			want = append(want, rest[:strings.Index(rest, ")")+1])
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("connection keys in order\n got %v\nwant %v", got, want)
	}
	if n := len(StaticStats()) + len(ConnStats(0, 1, "x")); n != 47 {
		t.Errorf("idle node with one connection has %d stats keys, corosync 47", n)
	}
}
