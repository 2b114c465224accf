module github.com/needle-cluster/needle/services/cmapd

go 1.26.8
