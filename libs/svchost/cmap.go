package svchost

import (
	"encoding/binary"
	"slices"
	"strings"

	"github.com/needle-cluster/needle/libs/coroconf"
	"github.com/needle-cluster/needle/libs/corotypes/cmapreq"
	"github.com/needle-cluster/needle/libs/corotypes/cmapwire"
	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
)

// cmapService is cmap's Corosync service id: cmapd attaches as it.
const cmapService = 0

// UIDGIDPrefix is always mirrored: the live uidgid rules read it.
const UIDGIDPrefix = "uidgid."

// loggingPrefix is always mirrored too: a reload's logging.* changes are
// re-applied to every daemon's logs, as corosync applies them to all of
// its subsystems.
const loggingPrefix = "logging."

// busCmap is the CmapMirror of a daemon that is not cmapd: it tracks its
// prefixes through the bus (package cmapreq's Track) each time it
// attaches and each time cmapd says hello (cmapd restarted), applies
// cmapd's change notifications, and writes through cmapd.
type busCmap struct {
	b        *busState
	m        *Mirror
	prefixes []string
	// round numbers trackAll calls: only the latest may report ready.
	round uint64
}

func newBusCmap(b *busState, prefixes []string) *busCmap {
	ps := []string{UIDGIDPrefix, loggingPrefix}
	for _, p := range prefixes {
		if !slices.Contains(ps, p) {
			ps = append(ps, p)
		}
	}
	return &busCmap{b: b, m: NewMirror(), prefixes: ps}
}

// seed loads the configuration file's keys below the tracked prefixes, so
// the uidgid rules of the file hold before cmapd answered.
func (c *busCmap) seed(keys coroconf.Map) {
	for _, p := range c.prefixes {
		snap := map[string]value.Value{}
		for _, k := range keys.KeysWithPrefix(p) {
			snap[k] = keys[k]
		}
		c.m.Replace(p, snap)
	}
}

// trackAll (re)registers every prefix with cmapd and replaces the
// mirrored keys with cmapd's answer. When cmapd is not attached the
// request fails; its hello after attaching brings us back here.
func (c *busCmap) trackAll() {
	c.round++
	round, left, failed := c.round, len(c.prefixes), false
	answered := func(ok bool) {
		left--
		failed = failed || !ok
		if left == 0 && !failed && round == c.round {
			if f, ok := c.b.d.svc.(CmapFollower); ok {
				f.CmapReady()
			}
		}
	}
	for _, p := range c.prefixes {
		c.b.request(cmapService, cmapreq.Track(p), func(st cs.Error, payload []byte) {
			if st != cs.OK {
				c.b.d.log.Debug("cmap prefix not tracked yet", "prefix", p, "status", st)
				answered(false)
				return
			}
			rst, es, err := cmapreq.DecodeTrackReply(payload)
			if err != nil || rst != cs.OK {
				c.b.d.log.Warn("cmap track refused", "prefix", p, "status", rst, "error", err)
				answered(false)
				return
			}
			snap := make(map[string]value.Value, len(es))
			for _, e := range es {
				if !e.Deleted && strings.HasPrefix(e.Key, p) {
					snap[e.Key] = e.Value
				}
			}
			c.m.Replace(p, snap)
			answered(true)
		})
	}
}

// notification handles cmapd's Changed and Hello requests; ok is false
// for any other request.
func (c *busCmap) notification(payload []byte) (cs.Error, []byte, bool) {
	if len(payload) < 4 {
		return 0, nil, false
	}
	switch int32(binary.NativeEndian.Uint32(payload)) {
	case cmapreq.ReqChanged, cmapreq.ReqHello:
	default:
		return 0, nil, false
	}
	n, err := cmapreq.DecodeNotification(payload)
	if err != nil {
		c.b.d.log.Warn("cmap notification refused", "error", err)
		return cs.ErrInvalidParam, cmapreq.NotificationReply(cs.ErrInvalidParam), true
	}
	if n.Hello {
		c.trackAll()
		c.b.d.publishAllStats() // a new cmapd has none of them
	} else {
		var mine []Change
		for _, e := range n.Changes {
			if c.tracked(e.Key) {
				mine = append(mine, Change{Key: e.Key, Value: e.Value, Deleted: e.Deleted})
			}
		}
		c.m.Apply(mine)
	}
	return cs.OK, cmapreq.NotificationReply(cs.OK), true
}

func (c *busCmap) tracked(key string) bool {
	for _, p := range c.prefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

func (c *busCmap) Get(key string) (value.Value, bool)            { return c.m.Get(key) }
func (c *busCmap) Keys(prefix string) []string                   { return c.m.Keys(prefix) }
func (c *busCmap) Watch(prefix string, f func(changed []string)) { c.m.Watch(prefix, f) }

func (c *busCmap) Set(key string, v value.Value, done func(cs.Error)) {
	c.write(cmapwire.Set{Key: key, Type: v.Type, Value: v.Data}.Encode(), done)
}

func (c *busCmap) Delete(key string, done func(cs.Error)) {
	c.write(cmapwire.Delete{Key: key}.Encode(), done)
}

func (c *busCmap) write(req []byte, done func(cs.Error)) {
	c.b.request(cmapService, req, func(st cs.Error, _ []byte) {
		if done != nil {
			done(st)
		}
	})
}
