package svchost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/needle-cluster/needle/libs/coroconf"
	"github.com/needle-cluster/needle/libs/logsys"
	"github.com/urfave/cli/v2"
)

// Defaults of the command line.
const (
	DefaultConfig = "/etc/corosync/corosync.conf"
	DefaultBus    = "/run/needle/bus.sock"
	// ExitFatal is the status after Host.Fatal (corosync's exit after a
	// fatal runtime condition such as a config_version mismatch).
	ExitFatal = 1
)

// Main runs a service daemon from its command line and returns the exit
// status: 0 after SIGTERM/SIGINT and an orderly drain; corosync's
// configuration (8) and logging (7) statuses when those do not load;
// ExitFatal after Host.Fatal; 1 for a usage error.
func Main(opts Options) int { return MainArgs(opts, os.Args, os.Stdout, os.Stderr) }

// Flags are every service daemon's command-line options (the daemons' man
// pages are generated from them).
func Flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "c", Aliases: []string{"config"}, Value: DefaultConfig, Usage: "corosync.conf `FILE`"},
		&cli.StringFlag{Name: "bus", Value: DefaultBus, Usage: "unix socket `PATH` of totemd's service bus"},
		&cli.BoolFlag{Name: "f", Usage: "run in the foreground (accepted for corosync habit; the daemon never forks)"},
		&cli.StringFlag{Name: "metrics", Usage: "serve Prometheus metrics at http://`ADDR`/metrics (host:port; default: needle.metrics.<daemon> in corosync.conf, else off)"},
	}
}

// MainArgs is Main with explicit arguments and outputs (tests).
func MainArgs(opts Options, args []string, stdout, stderr io.Writer) int {
	app := &cli.App{
		Name:           opts.Program,
		Usage:          opts.Usage,
		Writer:         stdout,
		ErrWriter:      stderr,
		ExitErrHandler: func(*cli.Context, error) {},
		Flags:          Flags(),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cli.Exit(fmt.Sprintf("%s: unexpected argument %q", opts.Program, c.Args().First()), 1)
			}
			return serve(c, opts, c.String("c"), c.String("bus"), c.String("metrics"))
		},
	}
	err := app.Run(args)
	if err == nil {
		return 0
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		if msg := ec.Error(); msg != "" {
			fmt.Fprintln(stderr, msg)
		}
		return ec.ExitCode()
	}
	fmt.Fprintf(stderr, "%s: %v\n", opts.Program, err)
	return 1
}

// serve loads the configuration, opens logging and runs until SIGTERM or
// SIGINT.
func serve(c *cli.Context, opts Options, path, bus, metrics string) error {
	m, err := coroconf.Load(path, coroconf.LoadOptions{})
	if err != nil {
		return configExit(err)
	}
	lc, err := logsys.Parse(m.Strings("logging."))
	if err != nil {
		return cli.Exit("parse error in config: "+err.Error()+".", coroconf.ExitLogging)
	}
	logs, err := logsys.Open(lc, logsys.Options{Program: opts.Program})
	if err != nil {
		return cli.Exit(err.Error(), coroconf.ExitLogging)
	}
	defer logs.Close()
	log := logs.Logger(strings.ToUpper(opts.Program))
	if err := SetupRuntime(m, log); err != nil {
		log.Error(err.Error())
		return cli.Exit(err.Error(), coroconf.ExitConfig)
	}
	if v, ok := m[MetricsKey(opts.Program)]; ok && metrics == "" {
		metrics, _ = v.AsString()
	}
	d, err := New(opts, Config{Path: path, Keys: m, Log: log, Logs: logs, MetricsAddr: metrics}, bus)
	if err != nil {
		return configExit(err)
	}
	// SIGTERM (systemctl stop and restart) hands the clients over to the
	// next daemon if the service can (handover.go); SIGINT just stops.
	ctx, stop := context.WithCancel(c.Context)
	defer stop()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	go func() {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGTERM {
				d.HandOverOnStop()
			}
			stop()
		case <-ctx.Done():
		}
	}()
	defer StartCPUProfile(ctx, opts.Program)()
	logsys.Notice(log, fmt.Sprintf("needle %s starting up", opts.Program))
	if err := d.Run(ctx); err != nil {
		log.Error(opts.Program+" stopped", "error", err)
		return cli.Exit("", ExitFatal)
	}
	logsys.Notice(log, fmt.Sprintf("needle %s exiting normally", opts.Program))
	return nil
}

func configExit(err error) error {
	var ce *coroconf.Error
	if errors.As(err, &ce) {
		return cli.Exit(ce.Msg, ce.Exit)
	}
	return cli.Exit(err.Error(), coroconf.ExitConfig)
}
