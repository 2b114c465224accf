// Package store is cmapd's map core: the icmap (configuration and runtime
// keys) and the stats map, each with byte-ordered live iteration and
// tracking, the read-only rules for IPC clients, and the per-connection
// state (selected map, iterators, trackers) of spec/cmap.md §1–5, §7.
//
// It is a pure state machine: every call runs to completion, and the
// tracker notifications a change causes are returned as Events, in change
// order, for the caller to deliver. Nothing here blocks, sleeps or reads
// a clock; the stats values come from the driver (PutStat) and MODIFY
// trackers on stats keys fire when the driver calls PollStats.
//
// Behaviour verified against corosync 3.1.7 is recorded in
// ../../testdata/real (see store_test.go for what each table checks).
package store
