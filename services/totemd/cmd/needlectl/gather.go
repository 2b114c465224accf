package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// tools runs the node's command-line tools.
type tools struct {
	timeout time.Duration
}

// path finds a tool next to needlectl's own executable, else on PATH.
func (tools) path(name string) string {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return name
}

// run runs one tool and returns its stdout, and an error carrying its
// stderr (or why it could not run) unless it exited with one of okCodes.
func (t tools) run(ctx context.Context, okCodes []int, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, t.path(name), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok && ctx.Err() == nil {
		code = ee.ExitCode()
	} else if err != nil {
		return nil, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	for _, c := range okCodes {
		if c == code {
			return out.Bytes(), nil
		}
	}
	msg := strings.TrimSpace(errb.String())
	if msg == "" {
		msg = "no message"
	}
	return nil, fmt.Errorf("%s %s: exit %d: %s", name, strings.Join(args, " "), code, msg)
}

// status is the node view. The tools' JSON objects are kept as they
// printed them (Raw) for --json; the fields the text view needs are
// decoded beside.
type status struct {
	Cfg         json.RawMessage   `json:"ring"`
	Members     []member          `json:"members"`
	Quorum      json.RawMessage   `json:"quorum,omitempty"`
	CPG         json.RawMessage   `json:"cpg,omitempty"`
	Services    map[string]bool   `json:"services,omitempty"`
	Unavailable map[string]string `json:"unavailable,omitempty"`

	ring   ringView
	quorum quorumView
	cpg    cpgView
}

// member is one runtime.members.<id>.* entry of the local cmap.
type member struct {
	NodeID uint32 `json:"node_id"`
	IP     string `json:"ip,omitempty"`
	Status string `json:"status,omitempty"`
	Local  bool   `json:"local"`
}

// ringView is what the text needs from `cfgtool --json -s`.
type ringView struct {
	LocalNodeID uint32 `json:"local_node_id"`
	Transport   string `json:"transport"`
	Links       []struct {
		LinkID int `json:"link_id"`
		Nodes  []struct {
			NodeID uint32 `json:"node_id"`
			State  string `json:"state"`
		} `json:"nodes"`
	} `json:"links"`
}

// quorumView is what the text needs from `quorumtool --json -s`.
type quorumView struct {
	Quorum *struct {
		Provider string `json:"provider"`
		Nodes    int    `json:"nodes"`
		RingID   struct {
			NodeID uint32 `json:"node_id"`
			Seq    uint64 `json:"seq"`
		} `json:"ring_id"`
		Quorate bool `json:"quorate"`
	} `json:"quorum"`
	Votequorum *struct {
		Expected uint32   `json:"expected_votes"`
		Total    uint32   `json:"total_votes"`
		Quorum   uint32   `json:"quorum"`
		Flags    []string `json:"flags"`
	} `json:"votequorum"`
}

// cpgView is what the text needs from `cpgtool --json`.
type cpgView struct {
	Groups []struct {
		Name    string `json:"name"`
		Members []struct {
			PID    uint32 `json:"pid"`
			NodeID uint32 `json:"nodeid"`
		} `json:"members"`
	} `json:"groups"`
}

// cmapKeys is `cmapctl --json`'s object.
type cmapKeys struct {
	Keys []struct {
		Key   string          `json:"key"`
		Type  string          `json:"type"`
		Value json.RawMessage `json:"value"`
	} `json:"keys"`
}

// gather runs the tools; a part that fails is recorded in Unavailable.
func gather(ctx context.Context, t tools) *status {
	st := &status{Unavailable: map[string]string{}, Members: []member{}}
	fail := func(part string, err error) { st.Unavailable[part] = err.Error() }
	decode := func(part string, b []byte, into any) bool {
		if err := json.Unmarshal(b, into); err != nil {
			fail(part, fmt.Errorf("unreadable JSON: %w", err))
			return false
		}
		return true
	}

	if b, err := t.run(ctx, []int{0}, "cfgtool", "--json", "-s"); err != nil {
		fail("ring", err)
		return st
	} else if decode("ring", b, &st.ring) {
		st.Cfg = json.RawMessage(bytes.TrimSpace(b))
	} else {
		return st
	}

	var mk cmapKeys
	if b, err := t.run(ctx, []int{0, 1}, "cmapctl", "--json", "runtime.members."); err != nil {
		fail("members", err)
	} else if decode("members", b, &mk) {
		st.Members = members(mk, st.ring.LocalNodeID)
	}

	// quorumtool -s exits 2 when not quorate: still a full report.
	if b, err := t.run(ctx, []int{0, 2}, "quorumtool", "--json", "-s"); err != nil {
		fail("quorum", err)
	} else if decode("quorum", b, &st.quorum) {
		st.Quorum = json.RawMessage(bytes.TrimSpace(b))
	}

	if b, err := t.run(ctx, []int{0}, "cpgtool", "--json"); err != nil {
		fail("cpg", err)
	} else if decode("cpg", b, &st.cpg) {
		st.CPG = json.RawMessage(bytes.TrimSpace(b))
	}

	// stats.needle.service.<name>.attached: published by needle's totemd
	// (a corosync node has none: its services are built in).
	mk = cmapKeys{}
	if b, err := t.run(ctx, []int{0, 1}, "cmapctl", "--json", "-m", "stats", "stats.needle.service."); err != nil {
		fail("services", err)
	} else if decode("services", b, &mk) {
		st.Services = map[string]bool{}
		for _, k := range mk.Keys {
			name := strings.TrimPrefix(k.Key, "stats.needle.service.")
			if name, ok := strings.CutSuffix(name, ".attached"); ok {
				st.Services[name] = string(k.Value) == "1"
			}
		}
		if len(st.Services) == 0 {
			st.Services = nil
			st.Unavailable["services"] = "no stats.needle.service.* keys in the stats map (not a needle totemd, or its first statistics are not published yet)"
		}
	}
	if len(st.Unavailable) == 0 {
		st.Unavailable = nil
	}
	return st
}

// members reads runtime.members.<id>.{ip,status} into a list by node id.
func members(mk cmapKeys, local uint32) []member {
	byID := map[uint32]*member{}
	for _, k := range mk.Keys {
		rest, ok := strings.CutPrefix(k.Key, "runtime.members.")
		if !ok {
			continue
		}
		idText, leaf, ok := strings.Cut(rest, ".")
		id, err := strconv.ParseUint(idText, 10, 32)
		if !ok || err != nil {
			continue
		}
		m := byID[uint32(id)]
		if m == nil {
			m = &member{NodeID: uint32(id), Local: uint32(id) == local}
			byID[uint32(id)] = m
		}
		var s string
		if json.Unmarshal(k.Value, &s) != nil {
			continue
		}
		switch leaf {
		case "ip":
			m.IP = strings.TrimSpace(s)
		case "status":
			m.Status = s
		}
	}
	out := make([]member, 0, len(byID))
	for _, m := range byID {
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NodeID < out[j].NodeID })
	return out
}
