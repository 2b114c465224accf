// Package daemon is what is cmap's own in cmapd: the map (store.Store),
// its libqb requests and statistics, the config_version exchange, the
// runtime.members keys, reloads, the bus request protocol other daemons
// write into cmap with (libs/corotypes/cmapreq), and the prefix trackers
// those daemons mirror cmap through. Everything else — command line,
// logging, the owner goroutine, the bus attachment, the multicast queue,
// the sync callbacks, the libqb endpoint and its uidgid rules — is
// libs/svchost's. cmapd owns the map, so svchost reads the uidgid rules
// straight from it (svchost.CmapOwner) instead of tracking them.
package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/needle-cluster/needle/libs/coroconf"
	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/svcid"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/libs/logsys"
	"github.com/needle-cluster/needle/libs/svchost"
	"github.com/needle-cluster/needle/services/cmapd/internal/cfgver"
	"github.com/needle-cluster/needle/services/cmapd/internal/dispatch"
	"github.com/needle-cluster/needle/services/cmapd/internal/load"
	"github.com/needle-cluster/needle/services/cmapd/internal/store"
)

// StatsPeriod is how often statistics trackers are evaluated (corosync's
// stats updater runs every 1.5 s).
const StatsPeriod = 1500 * time.Millisecond

// serviceID is cmap's corosync service id (bus attach, stats.ipcs keys).
const serviceID = svcid.Cmap

// Config says where cmapd finds its inputs.
type Config struct {
	// ConfPath is corosync.conf; it is watched for changes.
	ConfPath string
	// BusPath is totemd's service bus socket.
	BusPath string
	// Logs are the daemon's sinks; reloads re-apply logging.* to them.
	Logs *logsys.Logsys
	// Debounce is the quiet time after the last change of ConfPath before
	// it is reloaded; 0 means 150 ms.
	Debounce time.Duration
}

// Options are cmapd's svchost options; debounce as Config.Debounce.
func Options(debounce time.Duration) svchost.Options {
	return svchost.Options{
		Program:    "cmapd",
		Usage:      "needle's cmap service daemon (corosync's configuration and runtime key/value map)",
		Service:    serviceID,
		Name:       "cmap",
		Endpoints:  []string{"cmap"},
		TickPeriod: StatsPeriod,
		New: func(c svchost.Config) (svchost.Service, error) {
			return newService(c, debounce)
		},
	}
}

// Daemon is a loaded cmapd; Run serves it.
type Daemon struct{ sd *svchost.Daemon }

// New loads the configuration as corosync's start-up does and builds the
// initial map. Errors carry corosync's messages (a *coroconf.Error).
func New(cfg Config) (*Daemon, error) {
	keys, err := coroconf.Load(cfg.ConfPath, coroconf.LoadOptions{})
	if err != nil {
		return nil, err
	}
	sd, err := svchost.New(Options(cfg.Debounce), svchost.Config{
		Path: cfg.ConfPath, Keys: keys, Logs: cfg.Logs, Log: cfg.Logs.Logger("CMAP"),
	}, cfg.BusPath)
	if err != nil {
		return nil, err
	}
	return &Daemon{sd: sd}, nil
}

// Run serves until ctx ends (nil) or a fatal condition (returned).
func (d *Daemon) Run(ctx context.Context) error { return d.sd.Run(ctx) }

// service is cmap as a svchost.Service. Owner goroutine only.
type service struct {
	path     string
	debounce time.Duration
	logs     *logsys.Logsys
	log      hclog.Logger
	host     svchost.Host
	loop     svchost.Loop
	st       *store.Store

	conns     map[store.ConnID]*ipcConn
	ipcActive uint64
	ipcClosed uint64

	attached bool
	ver      *cfgver.Service
	nodeID   uint32

	tracks *trackers
}

func newService(c svchost.Config, debounce time.Duration) (*service, error) {
	if debounce == 0 {
		debounce = 150 * time.Millisecond
	}
	res, err := coroconf.Check(c.Path, coroconf.CheckOptions{Needle: true})
	if err != nil {
		return nil, err
	}
	s := &service{
		path:     c.Path,
		debounce: debounce,
		logs:     c.Logs,
		log:      c.Log,
		host:     c.Host,
		loop:     c.Loop,
		st:       store.New(),
		conns:    make(map[store.ConnID]*ipcConn),
	}
	s.tracks = newTrackers(s)
	for _, w := range res.Warnings {
		s.log.Warn(w)
	}
	for k, v := range load.Initial(res.Map) {
		if r := s.st.Set(k, v); r.Err != cs.OK {
			s.log.Warn("key not stored", "key", k, "error", r.Err)
		}
	}
	if _, err := s.st.Track(cfgver.Key, cfgver.TrackFlags, 0); err != cs.OK {
		return nil, fmt.Errorf("track %s: %s", cfgver.Key, err)
	}
	for _, k := range store.StaticStats() {
		s.st.PutStat(k.Key, zero(k.Type))
	}
	s.putGlobalStats()
	if c.Loop != nil {
		if err := s.watch(c.Done); err != nil {
			s.log.Warn("configuration file is not watched; reload only on request", "error", err)
		}
	}
	return s, nil
}

func zero(t value.Type) value.Value { return value.Value{Type: t, Data: make([]byte, t.Size())} }

// Tick polls the statistics.
func (s *service) Tick(time.Time) { s.pollStats() }

// deliver sends client events in change order and acts on the daemon's own
// tracker events (totem.config_version, bus and local prefix trackers).
func (s *service) deliver(evs []store.Event) {
	clients, internal := dispatch.Events(evs)
	s.sendEvents(clients)
	s.internal(internal)
}

func (s *service) sendEvents(out []dispatch.Outgoing) {
	for _, o := range out {
		if c, ok := s.conns[o.Conn]; ok {
			if err := c.cl.SendEvent(o.Msg); err != nil {
				s.log.Debug("event not sent", "conn", o.Conn, "error", err)
			}
		}
	}
}

func (s *service) internal(evs []store.Event) {
	var tracked []store.Event
	for _, e := range evs {
		if e.Cookie != 0 {
			tracked = append(tracked, e)
			continue
		}
		if e.Key != cfgver.Key || s.ver == nil {
			continue
		}
		v, ok := s.st.Get(cfgver.Key)
		s.mcast(s.ver.ConfigVersionChanged(v, ok))
	}
	s.tracks.events(tracked)
}

// apply performs daemon writes and delivers their events.
func (s *service) apply(steps []load.Step) {
	evs, errs := load.Apply(s.st, steps)
	for _, e := range errs {
		s.log.Warn("write refused", "key", e.Key, "error", e.Err)
	}
	s.deliver(evs)
}
