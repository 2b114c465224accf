package cfgver

import (
	"fmt"

	"github.com/needle-cluster/needle/libs/corotypes/value"
)

// TrackFlags are the events of totem.config_version that make cmap
// announce the new version: ADD | DELETE | MODIFY (store.Track* values).
const TrackFlags = 4 | 1 | 2

// MemberKey is where a node's received config version is stored.
func MemberKey(nodeID uint32) string {
	return fmt.Sprintf("runtime.members.%d.config_version", nodeID)
}

// Service is cmap's sync participant for one node. The zero value is not
// ready; use New.
type Service struct {
	nodeID     uint32
	transCount int
	myVersion  uint64
	highest    uint64
	firstSync  bool
}

// New returns the state of a freshly started node.
func New(nodeID uint32) *Service { return &Service{nodeID: nodeID, firstSync: true} }

// versionOf reads totem.config_version as icmap_get_uint64 would: a
// missing key or one of another type counts as 0.
func versionOf(v value.Value, ok bool) uint64 {
	if !ok {
		return 0
	}
	x, ok := v.U64Value()
	if !ok {
		return 0
	}
	return x
}

// message builds the MCAST for the current value of the key.
func message(reason uint8, v value.Value, ok bool) []byte {
	it := Item{Key: Key}
	if ok {
		it.Value = v
	}
	b, err := Message{Reason: reason, Items: []Item{it}}.Encode()
	if err != nil {
		// One short constant key always fits; reaching this is a bug.
		panic(err)
	}
	return b
}

// SyncInit starts a sync round: trans are the transitional members that
// stay in the new membership, v/ok the current totem.config_version.
func (s *Service) SyncInit(trans, members []uint32, v value.Value, ok bool) {
	s.transCount = len(trans)
	s.myVersion = versionOf(v, ok)
	s.highest = s.myVersion
}

// SyncProcess returns the SYNC message to multicast. The step is done once
// the multicast was accepted; if the ring refused it, call again.
func (s *Service) SyncProcess(v value.Value, ok bool) []byte {
	return message(ReasonSync, v, ok)
}

// ConfigVersionChanged handles a change of totem.config_version (the
// daemon tracks the key with TrackFlags): it returns the
// NEW_CONFIG_VERSION message to multicast.
func (s *Service) ConfigVersionChanged(v value.Value, ok bool) []byte {
	s.myVersion = versionOf(v, ok)
	return message(ReasonNewConfigVersion, v, ok)
}

// Deliver handles a delivered MCAST from node `from`. It returns the key
// and value to store (runtime.members.<from>.config_version); versions from
// other nodes raise the highest one seen. Messages with an unknown reason
// are ignored (ok false), as corosync does.
func (s *Service) Deliver(from uint32, b []byte, swapped bool) (key string, v value.Value, ok bool, err error) {
	m, err := Decode(b, swapped)
	if err != nil {
		return "", value.Value{}, false, fmt.Errorf("config_version from node %d: %w", from, err)
	}
	if m.Reason != ReasonSync && m.Reason != ReasonNewConfigVersion {
		return "", value.Value{}, false, nil
	}
	ver := m.Version()
	if from != s.nodeID && ver > s.highest {
		s.highest = ver
	}
	return MemberKey(from), value.U64(ver), true, nil
}

// SyncActivate ends a sync round. On the first round that had other
// members (a non-empty transitional list), a node with a non-zero version
// that differs from the highest received must shut down; shutdown then
// carries corosync's log line. Later rounds never shut down.
func (s *Service) SyncActivate() (shutdown bool, reason string) {
	if s.transCount == 0 || !s.firstSync {
		return false, ""
	}
	s.firstSync = false
	if s.myVersion == 0 || s.highest == s.myVersion {
		return false, ""
	}
	return true, fmt.Sprintf("Received config version (%d) is different than my config version (%d)! Exiting",
		s.highest, s.myVersion)
}

// SyncAbort drops nothing: cmap keeps no per-round state beyond what the
// next SyncInit resets.
func (s *Service) SyncAbort() {}
