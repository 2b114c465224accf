package svchost

import (
	"fmt"

	"github.com/needle-cluster/needle/libs/coroconf"
	"github.com/needle-cluster/needle/libs/logsys"
)

// LoadConfig reads the corosync.conf at path and opens the logging it
// configures, for a daemon built with New rather than Main (tests,
// embedding). Main does the same and maps the errors to corosync's exit
// statuses. Config.Log is left nil: New names it after the program.
func LoadConfig(program, path string) (Config, error) {
	m, err := coroconf.Load(path, coroconf.LoadOptions{})
	if err != nil {
		return Config{}, err
	}
	lc, err := logsys.Parse(m.Strings("logging."))
	if err != nil {
		return Config{}, fmt.Errorf("%s: logging: %w", path, err)
	}
	logs, err := logsys.Open(lc, logsys.Options{Program: program})
	if err != nil {
		return Config{}, fmt.Errorf("%s: logging: %w", path, err)
	}
	return Config{Path: path, Keys: m, Logs: logs}, nil
}
