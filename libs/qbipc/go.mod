module github.com/needle-cluster/needle/libs/qbipc

go 1.26.8

require (
	github.com/needle-cluster/needle/libs/nstest v0.0.0
	golang.org/x/sys v0.50.0
)

replace github.com/needle-cluster/needle/libs/nstest => ../nstest
