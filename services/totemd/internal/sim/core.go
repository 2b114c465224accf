package sim

import "github.com/needle-cluster/needle/services/totemd/internal/srp"

// RealCore is the Factory of the real protocol core.
func RealCore(cfg srp.Config) (srp.Interface, error) {
	n, err := srp.New(cfg)
	if err != nil {
		return nil, err
	}
	return n, nil
}
