module github.com/needle-cluster/needle/services/cmapd

go 1.26.8

require github.com/needle-cluster/needle/libs/coroconf v0.0.0

replace github.com/needle-cluster/needle/libs/coroconf => ../../libs/coroconf
