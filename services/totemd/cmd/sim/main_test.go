package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestParseRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-nodes", "2"},
		{"-nodes", "10-5"},
		{"-faults", "chaos"},
		{"-broken", "skip-everything"},
		{"-seeds", "0"},
		{"-parallel", "0"},
	} {
		if _, err := parse(args, io.Discard); err == nil {
			t.Errorf("parse(%q) accepted bad flags", args)
		}
	}
	o, err := parse([]string{"-seeds", "7", "-nodes", "4-9", "-faults", "net", "-broken", "skip-retransmit,reorder-delivery"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.seeds != 7 || o.nodes.Min != 4 || o.nodes.Max != 9 || o.profile.Name != "net" ||
		!o.faults.SkipRetransmit || !o.faults.ReorderDelivery || o.faults.SkipOldRingFlush {
		t.Fatalf("parsed %+v", o)
	}
}

func TestSoakPrintsSummaryLast(t *testing.T) {
	var out bytes.Buffer
	code := run([]string{"-seeds", "3", "-nodes", "3", "-faults", "none", "-parallel", "2"}, &out, io.Discard)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "seeds=3 violations=0 ") || !strings.Contains(last, "seeds_per_min=") {
		t.Fatalf("last line %q", last)
	}
	if code != 0 {
		t.Fatalf("exit code %d for a clean soak", code)
	}
}

func TestBrokenCoreFailsWithReplayCommand(t *testing.T) {
	var out bytes.Buffer
	code := run([]string{"-seed", "2", "-nodes", "4", "-faults", "net", "-broken", "reorder-delivery"}, &out, io.Discard)
	if code != 1 {
		t.Fatalf("exit code %d for a broken core, want 1; output:\n%s", code, out.String())
	}
	want := "replay: go run ./services/totemd/cmd/sim -seed 2 -nodes 4 -faults net -broken reorder-delivery -trace"
	if !strings.Contains(out.String(), want) {
		t.Fatalf("output lacks %q:\n%s", want, out.String())
	}
}

func TestWholeSoakAndReplay(t *testing.T) {
	if _, err := parse([]string{"-whole", "-broken", "skip-retransmit"}, io.Discard); err == nil {
		t.Fatal("-whole with -broken accepted")
	}
	var out bytes.Buffer
	code := run([]string{"-whole", "-seeds", "2", "-nodes", "3-4", "-first", "900001", "-parallel", "2"}, &out, io.Discard)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if last := lines[len(lines)-1]; code != 0 || !strings.HasPrefix(last, "seeds=2 violations=0 ") || !strings.Contains(last, "whole=true") {
		t.Fatalf("exit code %d, last line %q", code, last)
	}
	out.Reset()
	if code := run([]string{"-whole", "-seed", "900001", "-nodes", "3", "-trace"}, &out, io.Discard); code != 0 ||
		!strings.Contains(out.String(), "cpg#1 attach") {
		t.Fatalf("replay: exit code %d, %d bytes of output", code, out.Len())
	}
}
