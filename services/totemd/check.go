package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/needle-cluster/needle/libs/coroconf"
	"github.com/needle-cluster/needle/libs/logsys"
	"github.com/urfave/cli/v2"
)

// hostFlags are the options shared by `check` and the top-level `-t`
// form, new on each call: urfave/cli stores an environment variable's
// value in the flag it applies, so one shared set would carry a run's
// value into the next (and into the man page's defaults).
func hostFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "hostname", EnvVars: []string{"NEEDLE_HOSTNAME"}, Usage: "use `NAME` as the local host name for local node discovery"},
		&cli.StringFlag{Name: "host-env", EnvVars: []string{"NEEDLE_HOST_ENV"}, Usage: "describe the local host (hostname, addresses, name resolution) from `FILE` instead of this machine (see coroconf.ParseHostEnv)"},
	}
}

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "parse and validate corosync.conf like `corosync -t` and print the resulting cmap keys",
		ArgsUsage: " ",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "c", Aliases: []string{"config"}, Value: defaultConfig, Usage: "corosync.conf `FILE`"},
			&cli.BoolFlag{Name: "t", Usage: "accepted for corosync habit; check always only tests"},
		}, hostFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cli.Exit(fmt.Sprintf("check: unexpected argument %q (use -c FILE)", c.Args().First()), 1)
			}
			return runCheck(c, c.String("c"))
		},
	}
}

// logLine formats a message as corosync's stderr log line without the
// timestamp, e.g. "error   [MAIN  ] parse error in config: …".
func logLine(level, msg string) string {
	return fmt.Sprintf("%-7s [MAIN  ] %s", level, msg)
}

// checkOptions builds the coroconf options for this machine, with the
// overrides of the command line.
func checkOptions(hostname, envFile string) (coroconf.CheckOptions, error) {
	opts := coroconf.CheckOptions{
		ValidateLogging: func(keys map[string]string) error {
			_, err := logsys.Parse(keys)
			return err
		},
	}
	var fileEnv *coroconf.Env
	if envFile != "" {
		data, err := os.ReadFile(envFile)
		if err != nil {
			return opts, fmt.Errorf("read host env: %w", err)
		}
		e, err := coroconf.ParseHostEnv(data, "")
		if err != nil {
			return opts, fmt.Errorf("%s: %w", envFile, err)
		}
		fileEnv = &e
	}
	opts.Env = func(stateDir string) coroconf.Env {
		env := coroconf.SystemEnv(stateDir)
		if fileEnv != nil {
			keys := env.ReadKey
			env = *fileEnv
			env.ReadKey = keys
		}
		if hostname != "" {
			env.Hostname = hostname
		}
		return env
	}
	return opts, nil
}

// runCheck is `corosync -t -c path`: keys on stdout and status 0 when the
// configuration is valid, corosync's messages on stderr and its exit code
// otherwise.
func runCheck(c *cli.Context, path string) error {
	opts, err := checkOptions(c.String("hostname"), c.String("host-env"))
	if err != nil {
		return cli.Exit("totemd: "+err.Error(), 1)
	}
	code := check(path, opts, c.App.Writer, c.App.ErrWriter)
	if code != 0 {
		return cli.Exit("", code)
	}
	return nil
}

// check runs the configuration check and reports it; it returns the exit
// status corosync -t would have.
func check(path string, opts coroconf.CheckOptions, stdout, stderr io.Writer) int {
	res, err := coroconf.Check(path, opts)
	if res != nil {
		for _, w := range res.Warnings {
			fmt.Fprintln(stderr, logLine("warning", w))
		}
	}
	if err != nil {
		var ce *coroconf.Error
		if !errors.As(err, &ce) {
			fmt.Fprintln(stderr, err)
			return coroconf.ExitConfig
		}
		if ce.Logged {
			fmt.Fprintln(stderr, logLine("error", ce.Msg))
		} else {
			fmt.Fprintln(stderr, ce.Msg)
		}
		return ce.Exit
	}
	_, err = io.WriteString(stdout, res.Map.Format())
	if err != nil {
		return 1
	}
	return 0
}
