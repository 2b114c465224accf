module github.com/needle-cluster/needle/integration

go 1.26.8
