module github.com/needle-cluster/needle/libs/nstest

go 1.26.8

require golang.org/x/sys v0.50.0
