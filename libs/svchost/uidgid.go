package svchost

import (
	"fmt"

	"github.com/hashicorp/go-hclog"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/libs/qbipc"
)

// KeyReader is a source of current cmap values: a Mirror, cmapd's own
// store, or anything the owner goroutine keeps current.
type KeyReader interface {
	Get(key string) (value.Value, bool)
}

// UIDGID applies corosync's connection rule to libqb clients, reading the
// rules at every connection attempt, so a runtime write of
// `uidgid.gid.N = 1` (what pacemakerd does before its non-root daemons
// connect) takes effect for the very next connection. Root (uid 0 or gid
// 0) is always accepted; anyone else when uidgid.uid.<uid>,
// uidgid.gid.<gid> or their uidgid.config.* forms are u8 1 (corosync
// 3.1.7's ipc_glue: the config forms come from the file, the others from
// runtime writes).
type UIDGID struct {
	// Keys is read on the owner goroutine at each attempt; nil means
	// root only.
	Keys KeyReader
	// Log receives "Denied connection attempt from UID:GID" (error
	// level, as corosync logs it) for every refused client.
	Log hclog.Logger
}

// Allowed reports whether a non-root uid/gid is let in by the keys.
func (u UIDGID) Allowed(uid, gid uint32) bool {
	if u.Keys == nil {
		return false
	}
	for _, k := range []string{
		fmt.Sprintf("uidgid.uid.%d", uid), fmt.Sprintf("uidgid.gid.%d", gid),
		fmt.Sprintf("uidgid.config.uid.%d", uid), fmt.Sprintf("uidgid.config.gid.%d", gid),
	} {
		if v, ok := u.Keys.Get(k); ok && v.Type == value.Uint8 && len(v.Data) == 1 && v.Data[0] == 1 {
			return true
		}
	}
	return false
}

// Authorize accepts or refuses a client and logs every refusal. The error
// wraps EACCES (the client sees CS_ERR_ACCESS).
func (u UIDGID) Authorize(c qbipc.Creds) error {
	err := qbipc.Authorize(c, u.Allowed)
	if err != nil && u.Log != nil {
		u.Log.Error(fmt.Sprintf("Denied connection attempt from %d:%d", c.UID, c.GID))
	}
	return err
}
