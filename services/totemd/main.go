// Command totemd is needle's Totem daemon. Run without a command it loads
// corosync.conf and joins the ring (like `corosync -f`); its check command
// (or -t) is the equivalent of `corosync -t`: it parses and validates
// corosync.conf exactly as corosync 3.1.7 does and prints the resulting
// cmap keys.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"
)

const defaultConfig = "/etc/corosync/corosync.conf"

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run executes the command line and returns the process exit status, so
// tests can drive the real CLI without exiting.
func run(args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "totemd: internal error: %v\n", r)
			code = 70
		}
	}()
	app := newApp(stdout, stderr)
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
	fmt.Fprintln(stderr, "totemd:", err)
	return 1
}

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:      "totemd",
		Usage:     "needle's Totem daemon (corosync-compatible cluster membership and ordering)",
		Writer:    stdout,
		ErrWriter: stderr,
		// Errors are turned into exit codes by run, never by os.Exit here.
		ExitErrHandler: func(*cli.Context, error) {},
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "c", Aliases: []string{"config"}, Value: defaultConfig, Usage: "corosync.conf `FILE`"},
			&cli.BoolFlag{Name: "t", Usage: "test the configuration and exit (same as the check command)"},
			&cli.BoolFlag{Name: "f", Usage: "run in the foreground (accepted for corosync habit; totemd never forks)"},
			&cli.StringFlag{Name: "bus", Value: DefaultBusPath, Usage: "unix socket `PATH` of the service bus"},
			&cli.StringFlag{Name: "metrics", Usage: "serve Prometheus metrics at http://`ADDR`/metrics (host:port; default: needle.metrics.totemd in corosync.conf, else off)"},
		}, hostFlags()...),
		Commands: []*cli.Command{checkCommand()},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cli.Exit(fmt.Sprintf("totemd: unknown command %q", c.Args().First()), 1)
			}
			if c.Bool("t") {
				return runCheck(c, c.String("c"))
			}
			return runDaemon(c, c.String("c"))
		},
	}
}
