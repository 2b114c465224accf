module github.com/needle-cluster/needle/integration

go 1.26.8

require (
	github.com/needle-cluster/needle/libs/corotypes v0.0.0
	github.com/needle-cluster/needle/libs/ipcproto v0.0.0
	github.com/needle-cluster/needle/libs/qbipc v0.0.0 // indirect
	github.com/needle-cluster/needle/services/quorumd v0.0.0
)

replace (
	github.com/needle-cluster/needle/libs/corotypes => ../libs/corotypes
	github.com/needle-cluster/needle/libs/ipcproto => ../libs/ipcproto
	github.com/needle-cluster/needle/libs/qbipc => ../libs/qbipc
	github.com/needle-cluster/needle/services/quorumd => ../services/quorumd
)

require (
	github.com/prometheus/common v0.74.0
	golang.org/x/sys v0.50.0
)

require (
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/pandatix/go-abnf v0.5.5 // indirect
	github.com/prometheus/client_model v0.6.3 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)
