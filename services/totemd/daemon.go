package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
	"github.com/hashicorp/go-hclog"
	"github.com/needle-cluster/needle/libs/coroconf"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/libs/logsys"
	"github.com/needle-cluster/needle/libs/nsscrypto"
	"github.com/needle-cluster/needle/libs/qbipc"
	"github.com/needle-cluster/needle/libs/svchost"
	"github.com/needle-cluster/needle/services/totemd/internal/node"
	"github.com/needle-cluster/needle/services/totemd/internal/srp"
	"github.com/needle-cluster/needle/services/totemd/internal/transport"
	"github.com/urfave/cli/v2"
)

// DefaultBusPath is where service daemons find totemd.
const DefaultBusPath = "/run/needle/bus.sock"

// exitFatal is corosync's status when the totem layer cannot start.
const exitFatal = 15

// daemon is a configured, not yet running totemd.
type daemon struct {
	logs *logsys.Logsys
	log  hclog.Logger
	node *node.Node
	// cfgReload validates the file again for cfgtool -R.
	cfgReload func() error
	// metricsAddr is needle.metrics.totemd from the file ("" = off).
	metricsAddr string
}

// runDaemon loads the configuration the way `corosync -f -c FILE` does and
// runs the node until SIGTERM or SIGINT, then leaves the ring cleanly.
func runDaemon(c *cli.Context, path string) error {
	opts, err := checkOptions(c.String("hostname"), c.String("host-env"))
	if err != nil {
		return cli.Exit(err.Error(), coroconf.ExitConfig)
	}
	opts.Needle = true
	d, err := setupDaemon(path, c.String("bus"), opts)
	if err != nil {
		return err
	}
	d.cfgReload = func() error {
		_, err := coroconf.Check(path, opts)
		return err
	}
	defer d.logs.Close()
	ctx, stop := signal.NotifyContext(c.Context, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	defer svchost.StartCPUProfile(ctx, "totemd")()
	if addr := c.String("metrics"); addr != "" {
		d.metricsAddr = addr
	}
	if d.metricsAddr != "" {
		ms, err := serveMetrics(ctx, d.metricsAddr, d.node)
		if err != nil {
			d.log.Error("metrics not served", "error", err)
			return cli.Exit("", exitFatal)
		}
		d.log.Info("serving metrics", "address", "http://"+ms.Addr().String()+"/metrics")
	}
	go notifyReady(ctx, d.node, d.log)
	logsys.Notice(d.log, "Corosync Cluster Engine (needle totemd) starting up")
	if err := d.node.Run(ctx); err != nil {
		if errors.Is(err, node.ErrKilled) {
			d.log.Error("Corosync Cluster Engine exiting with status -1: killed by cfg request")
			return cli.Exit("", 255)
		}
		d.log.Error("totem failed", "error", err)
		return cli.Exit("", exitFatal)
	}
	logsys.Notice(d.log, "Corosync Cluster Engine exiting normally")
	return nil
}

func setupDaemon(path, busPath string, opts coroconf.CheckOptions) (*daemon, error) {
	res, err := coroconf.Check(path, opts)
	if err != nil {
		var ce *coroconf.Error
		if errors.As(err, &ce) {
			return nil, cli.Exit(ce.Msg, ce.Exit)
		}
		return nil, cli.Exit(err.Error(), coroconf.ExitConfig)
	}
	lc, err := logsys.Parse(res.Map.Strings("logging."))
	if err != nil {
		return nil, cli.Exit("parse error in config: "+err.Error()+".", coroconf.ExitLogging)
	}
	logs, err := logsys.Open(lc, logsys.Options{Program: "totemd"})
	if err != nil {
		return nil, cli.Exit(err.Error(), coroconf.ExitLogging)
	}
	d := &daemon{logs: logs, log: logs.Logger("MAIN")}
	if err := svchost.SetupRuntime(res.Map, d.log); err != nil {
		d.log.Error(err.Error())
		logs.Close()
		return nil, cli.Exit(err.Error(), coroconf.ExitConfig)
	}
	if v, ok := res.Map[svchost.MetricsKey("totemd")]; ok {
		d.metricsAddr, _ = v.AsString()
	}
	for _, w := range res.Warnings {
		d.log.Warn(w)
	}
	cfg, err := nodeConfig(res, busPath, logs)
	if err != nil {
		logs.Close()
		return nil, cli.Exit(err.Error(), coroconf.ExitConfig)
	}
	if cfg.Cfg, err = cfgConfig(res); err != nil {
		logs.Close()
		return nil, cli.Exit(err.Error(), coroconf.ExitConfig)
	}
	cfg.Cfg.Reload = func() error {
		if d.cfgReload == nil {
			return errors.New("reload is not available")
		}
		return d.cfgReload()
	}
	cfg.Cfg.ReopenLogs = logs.Reopen
	env := opts.Env
	if env == nil {
		env = coroconf.SystemEnv
	}
	cfg.Retune = retuner(res, env)
	cfg.Relog = func(keys map[string]value.Value) error {
		lc, err := logsys.Parse(coroconf.Map(keys).Texts("logging."))
		if err != nil {
			return err
		}
		return logs.Apply(lc)
	}
	if d.node, err = node.New(cfg); err != nil {
		logs.Close()
		return nil, cli.Exit(err.Error(), exitFatal)
	}
	return d, nil
}

// nodeConfig turns the validated configuration into the driver's.
func nodeConfig(res *coroconf.CheckResult, busPath string, logs *logsys.Logsys) (node.Config, error) {
	t := res.Totem
	var mode transport.Mode
	switch t.Transport {
	case "udpu":
		mode = transport.UDPU
	case "udp":
		mode = transport.UDP
	default:
		return node.Config{}, fmt.Errorf("totem.transport %q is not available in needle: set transport: udpu or udp", t.Transport)
	}
	if t.LocalNodePos < 0 || t.LocalNodePos >= len(t.Nodes) {
		return node.Config{}, errors.New("parse error in config: No valid name found for local host")
	}
	local := t.Nodes[t.LocalNodePos].Addrs[0]
	if l := t.Links[0]; l.LocalAddr.IsValid() {
		local = l.LocalAddr
	}
	ids, peers := nodesOf(t)
	mtu := int(t.NetMTU)
	var codec transport.FrameCodec
	suite, err := nsscrypto.ResolveSuite(res.Map.Strings("totem.")["totem.secauth"], t.CryptoCipher, t.CryptoHash)
	if err != nil {
		return node.Config{}, err
	}
	if suite.Enabled() {
		keys, err := nsscrypto.NewKeys(suite, t.Key)
		if err != nil {
			return node.Config{}, err
		}
		// The epoch of this life of the node: receivers refuse anything
		// sealed in an earlier one (libs/nsscrypto, replay protection).
		epochFile := filepath.Join(coroconf.StateDir(res.Map), fmt.Sprintf("needle-epoch_%d", t.NodeID))
		epoch, err := nsscrypto.NextEpoch(epochFile, time.Now())
		if err != nil {
			logs.Logger("TOTEM").Warn("crypto epoch not persisted; a restart with the clock set back would be refused by peers that saw this one", "error", err)
		}
		codec = transport.NewSealedCodec(keys, t.NodeID, epoch, rand.Reader)
		mtu -= keys.Overhead()
	}
	tm := t.Timers
	stateDir := coroconf.StateDir(res.Map)
	tu := tunablesOf(tm)
	gso := os.Getenv(noGSOEnv)
	return node.Config{
		SRP: srp.Config{
			Self: srp.NodeID(t.NodeID), Nodes: ids,
			Token: tu.Token, TokenWarning: tu.TokenWarning,
			TokenRetransmit: tu.TokenRetransmit, Hold: tu.Hold, Join: tu.Join,
			SendJoin: tu.SendJoin, Consensus: tu.Consensus, Merge: tu.Merge, Downcheck: tu.Downcheck,
			FailRecvConst: tu.FailRecvConst, SeqnoUnchangedConst: tu.SeqnoUnchangedConst,
			MissCountConst: tu.MissCountConst, WindowSize: tu.WindowSize, MaxMessages: tu.MaxMessages,
			HeartbeatFailures: tm.HeartbeatFailuresAllowed, MaxNetworkDelay: tu.MaxNetworkDelay,
			CancelHoldOnRetransmit: tu.CancelHoldOnRetransmit, NetMTU: mtu,
		},
		Transport: transport.Config{
			Mode: mode, Local: local, Port: t.Links[0].Port, Peers: peers,
			Mcast: t.Links[0].McastAddr, TTL: int(t.Links[0].TTL),
			BlockUnlisted: tm.BlockUnlistedIPs, Codec: codec, Logger: logs.Logger("TOTEM").Named("transport"),
			NoGSO: gso == "off", NoGRO: gso == "off" || gso == "send",
		},
		StateDir: stateDir,
		BusPath:  busPath,
		Logger:   logs.Logger("MAIN"),
		TotemLog: logs.Logger("TOTEM"),
		SyncLog:  logs.Logger("SYNC"),
		CfgLog:   logs.Logger("CFG"),
		PloadLog: logs.Logger("PLOAD"),
		Pload:    true,
	}, ensureDir(busPath)
}

// noGSOEnv set to "off" turns the transport's segmented sends and
// coalesced receives (UDP_SEGMENT, UDP_GRO) off, "send" only the
// receives: a diagnostic, not a corosync option, for same-run
// comparisons (transport/gso.go says what they are).
const noGSOEnv = "NEEDLE_UDP_GSO"

func ensureDir(busPath string) error {
	if busPath == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(busPath), 0o755); err != nil {
		return fmt.Errorf("bus socket directory: %w", err)
	}
	return nil
}

// cfgConfig prepares the cfg endpoint: IPC type, nodelist addresses,
// shutdown timeout and the uidgid admission rules.
func cfgConfig(res *coroconf.CheckResult) (node.CfgConfig, error) {
	m := res.Map
	ipcType := "native"
	if v, ok := m["system.qb_ipc_type"]; ok {
		ipcType = coroconf.FormatValue(v)
	}
	tr, err := qbipc.ParseTransport(ipcType)
	if err != nil {
		return node.CfgConfig{}, fmt.Errorf("system.qb_ipc_type: %w", err)
	}
	cc := node.CfgConfig{Enabled: true, Transport: tr, Nodelist: nodelistOf(res.Totem)}
	if v, ok := m["cfg.shutdown_timeout"]; ok {
		if ms, ok := v.U32Value(); ok {
			d := time.Duration(ms) * time.Millisecond
			cc.ShutdownTimeout = &d
		}
	}
	cc.UIDGID = map[string]value.Value{}
	for _, k := range m.KeysWithPrefix("uidgid.") {
		cc.UIDGID[k] = m[k]
	}
	return cc, nil
}

// notifyReady tells systemd (Type=notify) that totemd is ready once the
// first ring is formed and its services synchronized; without
// NOTIFY_SOCKET it does nothing.
func notifyReady(ctx context.Context, n *node.Node, log hclog.Logger) {
	w := n.Watch()
	for {
		if n.Membership().Synced {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-w:
		}
	}
	if _, err := sddaemon.SdNotify(false, sddaemon.SdNotifyReady); err != nil {
		log.Warn("systemd readiness not sent", "error", err)
	}
}
