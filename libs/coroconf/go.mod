module github.com/needle-cluster/needle/libs/coroconf

go 1.26.8
