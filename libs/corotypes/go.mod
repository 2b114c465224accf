module github.com/needle-cluster/needle/libs/corotypes

go 1.26.8
