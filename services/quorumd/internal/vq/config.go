package vq

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// NodelistEntry is one nodelist.node.<n> position: its node id and its
// quorum_votes (1 when the key is absent).
type NodelistEntry struct {
	NodeID uint32
	Votes  uint32
}

// DeviceConfig is quorum.device.* (present when quorum.device.model is
// non-empty).
type DeviceConfig struct {
	Model string
	// Votes is quorum.device.votes; VotesSet false means the key is absent
	// (corosync's -1, "compute it").
	Votes    uint32
	VotesSet bool
	// Timeout and SyncTimeout default to 10 s and 30 s.
	Timeout, SyncTimeout time.Duration
}

// Config is what votequorum reads from cmap (votequorum.md §2). The
// start-up-only options (wait_for_all, last_man_standing and its window,
// auto_tie_breaker and its node, allow_downscale, expected_votes_tracking)
// are ignored by Reload, as in 3.1.7.
type Config struct {
	// NodeID is this node's totem node id (non-zero).
	NodeID uint32
	// Nodelist in position order; nil means no nodelist. LocalPos is our
	// position in it (nodelist.local_node_pos).
	Nodelist []NodelistEntry
	LocalPos int

	ExpectedVotes uint32 // quorum.expected_votes, 0 = unset
	Votes         uint32 // quorum.votes (without nodelist)
	VotesSet      bool

	TwoNode                   bool
	WaitForAll, WaitForAllSet bool
	LastManStanding           bool
	LastManStandingWindow     time.Duration // 0 = 10 s
	AutoTieBreaker            bool
	AutoTieBreakerNode        string // "" = unset
	AllowDownscale            bool
	ExpectedVotesTracking     bool
	Device                    *DeviceConfig

	// TrackingBarrier is the persisted expected_votes_tracking barrier the
	// driver loaded (0 if the file was missing); only read at start-up.
	TrackingBarrier uint32

	// LogLevel is the least level the core formats Log actions at (the
	// zero value, hclog.NoLevel, formats all): a driver whose logger
	// drops debug lines, and the differential test's explorer, which
	// runs the core through hundreds of thousands of orderings, need not
	// pay for building them.
	LogLevel hclog.Level
}

// Defaults of corosync 3.1.7.
const (
	DefaultLMSWindow          = 10 * time.Second
	DefaultQdeviceTimeout     = 10 * time.Second
	DefaultQdeviceSyncTimeout = 30 * time.Second
)

// ConfigFromKeys builds a Config from corosync's flat cmap keys (coroconf's
// map: "quorum.two_node" -> "1", "nodelist.node.0.nodeid" -> "1", ...) for
// node nodeID. Like totem, the local position is the entry whose nodeid is
// ours; a node missing from the nodelist gets position 0 (what
// corosync-vqsim does for a node started outside the nodelist). Unparsable
// numbers are errors naming the key.
func ConfigFromKeys(keys map[string]string, nodeID uint32) (Config, error) {
	c := Config{NodeID: nodeID}
	var err error
	u32 := func(k string) (uint32, bool) {
		s, ok := keys[k]
		if !ok {
			return 0, false
		}
		v, e := strconv.ParseUint(strings.TrimSpace(s), 0, 32)
		if e != nil && err == nil {
			err = fmt.Errorf("votequorum config: %s = %q: not an unsigned 32-bit number", k, s)
		}
		return uint32(v), true
	}
	flag := func(k string) (bool, bool) {
		v, ok := u32(k)
		return v != 0, ok
	}
	c.ExpectedVotes, _ = u32("quorum.expected_votes")
	c.Votes, c.VotesSet = u32("quorum.votes")
	c.TwoNode, _ = flag("quorum.two_node")
	c.WaitForAll, c.WaitForAllSet = flag("quorum.wait_for_all")
	c.LastManStanding, _ = flag("quorum.last_man_standing")
	if w, ok := u32("quorum.last_man_standing_window"); ok {
		c.LastManStandingWindow = time.Duration(w) * time.Millisecond
	}
	c.AutoTieBreaker, _ = flag("quorum.auto_tie_breaker")
	if s, ok := keys["quorum.auto_tie_breaker_node"]; ok {
		c.AutoTieBreakerNode = s
		if s == "" {
			c.AutoTieBreakerNode = " " // present but empty: invalid, like corosync
		}
	}
	c.AllowDownscale, _ = flag("quorum.allow_downscale")
	c.ExpectedVotesTracking, _ = flag("quorum.expected_votes_tracking")
	if m := keys["quorum.device.model"]; m != "" {
		d := &DeviceConfig{Model: m, Timeout: DefaultQdeviceTimeout, SyncTimeout: DefaultQdeviceSyncTimeout}
		d.Votes, d.VotesSet = u32("quorum.device.votes")
		if v, ok := u32("quorum.device.timeout"); ok {
			d.Timeout = time.Duration(v) * time.Millisecond
		}
		if v, ok := u32("quorum.device.sync_timeout"); ok {
			d.SyncTimeout = time.Duration(v) * time.Millisecond
		}
		c.Device = d
	}
	// nodelist positions in icmap order (numeric order of n)
	pos := map[uint64]bool{}
	for k := range keys {
		rest, ok := strings.CutPrefix(k, "nodelist.node.")
		if !ok {
			continue
		}
		n, _, ok := strings.Cut(rest, ".")
		if !ok {
			continue
		}
		p, e := strconv.ParseUint(n, 10, 32)
		if e != nil {
			continue
		}
		pos[p] = true
	}
	var ps []uint64
	for p := range pos {
		ps = append(ps, p)
	}
	// icmap iterates keys as strings: "nodelist.node.10." sorts before ".2."
	sort.Slice(ps, func(i, j int) bool {
		return strconv.FormatUint(ps[i], 10)+"." < strconv.FormatUint(ps[j], 10)+"."
	})
	for i, p := range ps {
		pre := "nodelist.node." + strconv.FormatUint(p, 10) + "."
		id, _ := u32(pre + "nodeid")
		v, ok := u32(pre + "quorum_votes")
		if !ok {
			v = 1
		}
		c.Nodelist = append(c.Nodelist, NodelistEntry{NodeID: id, Votes: v})
		if id == nodeID {
			c.LocalPos = i
		}
	}
	return c, err
}

// atbParse is parse_atb_string: "lowest", "highest", or node ids read
// with strtol until the first 0 or non-number.
func atbParse(s string) (ATBMode, []uint32) {
	mode := ATBNone
	if s == "lowest" {
		mode = ATBLowest
	}
	if s == "highest" {
		mode = ATBHighest
	}
	if atoi(s) != 0 {
		var list []uint32
		rest := s
		for {
			n, r := strtol(rest)
			rest = r
			if n == 0 {
				break
			}
			list = append(list, uint32(n))
		}
		if len(list) > 0 {
			return ATBList, list
		}
	}
	return mode, nil
}

// strtol reads an optionally signed decimal after leading whitespace; it
// returns 0 and the input when there is none.
func strtol(s string) (int64, string) {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\v' || s[i] == '\f') {
		i++
	}
	j := i
	if j < len(s) && (s[j] == '+' || s[j] == '-') {
		j++
	}
	k := j
	for k < len(s) && s[k] >= '0' && s[k] <= '9' {
		k++
	}
	if k == j {
		return 0, s
	}
	v, err := strconv.ParseInt(s[i:k], 10, 64)
	if err != nil {
		v = 0
	}
	return v, s[k:]
}

func atoi(s string) int64 { v, _ := strtol(s); return int64(int32(v)) }
