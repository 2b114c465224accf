package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestMembers reads runtime.members.* as cmapctl --json lists them.
func TestMembers(t *testing.T) {
	var mk cmapKeys
	in := `{"keys": [
	  {"key": "runtime.members.1.config_version", "type": "u64", "value": 0},
	  {"key": "runtime.members.1.ip", "type": "str", "value": "r(0) ip(10.0.0.1) "},
	  {"key": "runtime.members.1.join_count", "type": "u32", "value": 1},
	  {"key": "runtime.members.1.status", "type": "str", "value": "joined"},
	  {"key": "runtime.members.10.status", "type": "str", "value": "left"},
	  {"key": "runtime.members.2.ip", "type": "str", "value": "r(0) ip(10.0.0.2) "},
	  {"key": "runtime.members.2.status", "type": "str", "value": "joined"},
	  {"key": "runtime.members.x.status", "type": "str", "value": "joined"}]}`
	if err := json.Unmarshal([]byte(in), &mk); err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(members(mk, 2))
	want := `[{"node_id":1,"ip":"r(0) ip(10.0.0.1)","status":"joined","local":false},` +
		`{"node_id":2,"ip":"r(0) ip(10.0.0.2)","status":"joined","local":true},` +
		`{"node_id":10,"status":"left","local":false}]`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestTextUnavailable: a part that could not be read says why, and the
// others still show.
func TestTextUnavailable(t *testing.T) {
	st := &status{Unavailable: map[string]string{
		"quorum": "quorumtool --json -s: exit 1: no quorumd", "cpg": "cpgtool --json: exit 1: no cpgd",
		"services": "no keys"}}
	st.ring.LocalNodeID, st.ring.Transport = 3, "udp"
	var b bytes.Buffer
	st.writeText(&b)
	for _, want := range []string{"Node:      3 (transport udp)", "Ring ID:   unknown", "unavailable: quorumtool --json -s: exit 1: no quorumd",
		"unavailable: cpgtool --json: exit 1: no cpgd", "unavailable: no keys"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
}

// TestUsage: an unknown argument is a usage error (exit 1).
func TestUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"needlectl", "status", "extra"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "unexpected argument") {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
}
