package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/needle-cluster/needle/libs/coroconf"
	"github.com/needle-cluster/needle/libs/logsys"
	"github.com/needle-cluster/needle/services/cmapd/internal/daemon"
	"github.com/urfave/cli/v2"
)

const (
	defaultConfig = "/etc/corosync/corosync.conf"
	defaultBus    = "/run/needle/bus.sock"
	// exitFatal is the status after a fatal runtime condition (corosync's
	// config_version mismatch exit).
	exitFatal = 1
)

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr)) }

// run executes the command line and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	app := &cli.App{
		Name:           "cmapd",
		Usage:          "needle's cmap service daemon (corosync's configuration and runtime key/value map)",
		Writer:         stdout,
		ErrWriter:      stderr,
		ExitErrHandler: func(*cli.Context, error) {},
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "c", Aliases: []string{"config"}, Value: defaultConfig, Usage: "corosync.conf `FILE`"},
			&cli.StringFlag{Name: "bus", Value: defaultBus, Usage: "unix socket `PATH` of totemd's service bus"},
			&cli.BoolFlag{Name: "f", Usage: "run in the foreground (accepted for corosync habit; cmapd never forks)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cli.Exit(fmt.Sprintf("cmapd: unexpected argument %q", c.Args().First()), 1)
			}
			return serve(c, c.String("c"), c.String("bus"))
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
	fmt.Fprintln(stderr, "cmapd:", err)
	return 1
}

// serve loads the configuration, opens logging and runs until SIGTERM or
// SIGINT.
func serve(c *cli.Context, path, bus string) error {
	m, err := coroconf.Load(path, coroconf.LoadOptions{})
	if err != nil {
		return configExit(err)
	}
	lc, err := logsys.Parse(m.Strings("logging."))
	if err != nil {
		return cli.Exit("parse error in config: "+err.Error()+".", coroconf.ExitLogging)
	}
	logs, err := logsys.Open(lc, logsys.Options{Program: "cmapd"})
	if err != nil {
		return cli.Exit(err.Error(), coroconf.ExitLogging)
	}
	defer logs.Close()
	d, err := daemon.New(daemon.Config{ConfPath: path, BusPath: bus, Logs: logs})
	if err != nil {
		return configExit(err)
	}
	ctx, stop := signal.NotifyContext(c.Context, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log := logs.Logger("CMAP")
	logsys.Notice(log, "needle cmapd starting up")
	if err := d.Run(ctx); err != nil {
		log.Error("cmapd stopped", "error", err)
		return cli.Exit("", exitFatal)
	}
	logsys.Notice(log, "needle cmapd exiting normally")
	return nil
}

func configExit(err error) error {
	var ce *coroconf.Error
	if errors.As(err, &ce) {
		return cli.Exit(ce.Msg, ce.Exit)
	}
	return cli.Exit(err.Error(), coroconf.ExitConfig)
}
