package vq

import "github.com/hashicorp/go-hclog"

// readConfig is votequorum_readconfig. At start-up an incompatible
// configuration returns corosync's error text; at runtime the same
// conditions log CRIT lines and disable the offending part.
func (c *Core) readConfig(cfg Config, runtime bool) string {
	c.logf(hclog.Debug, "Reading configuration (runtime: %d)", b2u8(runtime))
	if runtime {
		c.twoNode = false
		c.atb = c.initialATB
		c.set("runtime.votequorum.atb_type", uint32(c.atb))
	}
	expected := cfg.ExpectedVotes
	haveNodelist := cfg.Nodelist != nil
	var nodeVotes, nodeCount, nodeExpected uint32
	if haveNodelist {
		for i, e := range cfg.Nodelist {
			nodeCount++
			nodeExpected += e.Votes
			if i == cfg.LocalPos {
				nodeVotes = e.Votes
			}
		}
	}
	haveQdev := cfg.Device != nil && cfg.Device.Model != ""
	qdevVotes, qdevVotesSet := uint32(0), true // corosync's qdevice_votes, -1 when unset
	if haveQdev {
		qdevVotes, qdevVotesSet = cfg.Device.Votes, cfg.Device.VotesSet
		c.qdevTimeout, c.qdevSyncTimeout = cfg.Device.Timeout, cfg.Device.SyncTimeout
		if c.qdevTimeout == 0 {
			c.qdevTimeout = DefaultQdeviceTimeout
		}
		if c.qdevSyncTimeout == 0 {
			c.qdevSyncTimeout = DefaultQdeviceSyncTimeout
		}
		c.setCanOperate(true)
	}
	c.twoNode = cfg.TwoNode

	crit := func(s string) { c.logf(hclog.Error, "%s", s) }
	if !haveNodelist && expected == 0 {
		const e = "configuration error: nodelist or quorum.expected_votes must be configured!"
		if !runtime {
			return e
		}
		crit(e)
		crit("will continue with current runtime data")
		return ""
	}
	if c.twoNode && haveQdev {
		const e = "configuration error: two_node and quorum device cannot be configured at the same time!"
		if !runtime {
			return e
		}
		crit(e)
		if c.us.flags&FlagQdeviceRegistered != 0 {
			crit("quorum device is registered, disabling two_node")
			c.twoNode = false
		} else {
			crit("quorum device is not registered, allowing two_node")
			c.setCanOperate(false)
		}
	}
	if !runtime {
		c.allowDownscale = cfg.AllowDownscale
		c.wfa = cfg.WaitForAll
		c.wfaAutoset = !cfg.WaitForAllSet
		c.lms = cfg.LastManStanding
		if cfg.LastManStandingWindow != 0 {
			c.lmsWindow = cfg.LastManStandingWindow
		}
		c.evTracking = cfg.ExpectedVotesTracking
		if cfg.AutoTieBreaker {
			c.atb = ATBLowest
			c.set("runtime.votequorum.atb_type", uint32(c.atb))
		} else {
			c.atb = ATBNone
			if cfg.AutoTieBreakerNode != "" {
				c.logf(hclog.Warn, "auto_tie_breaker_node: is meaningless if auto_tie_breaker is set to 0")
			}
		}
		if cfg.AutoTieBreaker && cfg.AutoTieBreakerNode != "" {
			c.atb, c.atbList = atbParse(cfg.AutoTieBreakerNode)
			c.set("runtime.votequorum.atb_type", uint32(c.atb))
			if c.atb == ATBNone {
				c.logf(hclog.Warn, "auto_tie_breaker_nodes is not valid. It must be 'lowest', 'highest' or a space-separated list of node IDs. auto_tie_breaker is disabled")
			}
		}
		c.initialATB = c.atb
		if c.allowDownscale {
			c.evTracking = true
		}
		if c.evTracking {
			c.updateTrackingBarrier(cfg.TrackingBarrier)
		}
	}
	if c.wfaAutoset {
		c.wfa = c.twoNode
	}
	if c.twoNode && c.atb != ATBNone {
		crit("two_node and auto_tie_breaker are both specified but are not compatible.")
		crit("two_node has been disabled, please fix your corosync.conf")
		c.twoNode = false
	}
	if c.atb != ATBNone && nodeExpected%2 == 1 && !c.wfa {
		if c.lms {
			crit("auto_tie_breaker is set, the cluster has an odd number of nodes\n")
			crit("and last_man_standing is also set. With this situation a better\n")
			crit("solution would be to disable LMS, leave ATB enabled, and also\n")
			crit("enable wait_for_all (mandatory for ATB in odd-numbered clusters).\n")
			crit("Due to this ambiguity, corosync will fail to start. Please fix your corosync.conf\n")
			return "configuration error: auto_tie_breaker & last_man_standing not available in odd sized cluster"
		}
		crit("auto_tie_breaker is set and the cluster has an odd number of nodes.\n")
		crit("wait_for_all needs to be set for this configuration but it is missing\n")
		crit("Therefore auto_tie_breaker has been disabled. Please fix your corosync.conf\n")
		c.atb = ATBNone
		c.set("runtime.votequorum.atb_type", uint32(c.atb))
	}
	disable := func(e string) string {
		if !runtime {
			return e
		}
		crit(e)
		crit("disabling quorum device operations")
		c.setCanOperate(false)
		return ""
	}
	if haveQdev && c.lms {
		if e := disable("configuration error: quorum.device is not compatible with last_man_standing"); e != "" {
			return e
		}
	}
	if haveQdev && c.atb != ATBNone {
		if e := disable("configuration error: quorum.device is not compatible with auto_tie_breaker"); e != "" {
			return e
		}
	}
	if haveQdev && c.allowDownscale {
		if e := disable("configuration error: quorum.device is not compatible with allow_downscale"); e != "" {
			return e
		}
	}
	if expected != 0 && haveQdev && !qdevVotesSet {
		if e := disable("configuration error: quorum.device.votes must be specified when quorum.expected_votes is set"); e != "" {
			return e
		}
	}
	if haveQdev && !qdevVotesSet && haveNodelist && nodeCount != nodeExpected {
		if e := disable("configuration error: quorum.device.votes must be specified when not all nodes votes 1"); e != "" {
			return e
		}
	}
	// corosync: (qdevice_votes > 0) on a uint32 holding -1 is true too, and
	// the delta is computed in int.
	if (qdevVotes > 0 || !qdevVotesSet) && expected != 0 {
		qv := int32(qdevVotes)
		if !qdevVotesSet {
			qv = -1
		}
		if int32(expected)-qv < 2 {
			if e := disable("configuration error: quorum.device.votes is too high or expected_votes is too low"); e != "" {
				return e
			}
		}
	}
	if haveQdev && !qdevVotesSet && expected == 0 && haveNodelist && nodeCount == nodeExpected {
		qdevVotes, qdevVotesSet = nodeExpected-1, true
		nodeExpected += qdevVotes
	}
	c.logf(hclog.Debug, "ev_tracking=%d, ev_tracking_barrier = %d: expected_votes = %d\n", b2u8(c.evTracking), c.evTrackingBarrier, expected)
	if c.evTracking {
		expected = c.evTrackingBarrier
	}
	if haveNodelist {
		c.us.votes = nodeVotes
		c.us.expected = nodeExpected
	} else {
		c.us.votes = 1
		if cfg.VotesSet {
			c.us.votes = cfg.Votes
		}
	}
	if expected != 0 {
		c.us.expected = expected
	}
	if !haveQdev {
		c.qdev.votes = 0
	}
	if qdevVotesSet && haveQdev {
		c.qdev.votes = qdevVotes
	}
	c.evBarrier = c.us.expected
	c.set("runtime.votequorum.ev_barrier", c.evBarrier)
	c.set("runtime.votequorum.two_node", b2u8(c.twoNode))
	if c.wfa {
		if !runtime {
			c.setWFAStatus(true)
		}
	} else if c.wfaAutoset && c.wfaStatus {
		c.setWFAStatus(false)
	}
	return ""
}

func (c *Core) setCanOperate(ok bool) {
	c.qdevCanOperate = ok
	c.set("runtime.votequorum.qdevice_can_operate", b2u8(ok))
}
