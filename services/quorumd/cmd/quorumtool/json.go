package main

import "encoding/json"

// report is the --json output (schema in jsonHelp).
type report struct {
	Date       string          `json:"date,omitempty"`
	Quorum     *quorumJSON     `json:"quorum,omitempty"`
	Votequorum *votequorumJSON `json:"votequorum,omitempty"`
	Members    []memberJSON    `json:"members,omitempty"`
	Qdevice    *qdeviceJSON    `json:"qdevice,omitempty"`
}

type quorumJSON struct {
	Provider string   `json:"provider"`
	Nodes    int      `json:"nodes"`
	NodeID   uint32   `json:"node_id"`
	RingID   ringJSON `json:"ring_id"`
	Quorate  bool     `json:"quorate"`
}

type ringJSON struct {
	NodeID uint32 `json:"node_id"`
	Seq    uint64 `json:"seq"`
}

type votequorumJSON struct {
	Expected uint32   `json:"expected_votes"`
	Highest  uint32   `json:"highest_expected"`
	Total    uint32   `json:"total_votes"`
	Quorum   uint32   `json:"quorum"`
	Flags    []string `json:"flags"`
}

type memberJSON struct {
	NodeID  uint32  `json:"node_id"`
	Votes   *uint32 `json:"votes,omitempty"`
	Name    string  `json:"name"`
	Local   bool    `json:"local"`
	Qdevice string  `json:"qdevice,omitempty"`
}

type qdeviceJSON struct {
	Name    string `json:"name"`
	Votes   uint32 `json:"votes"`
	Casting bool   `json:"casting"`
}

// printJSON prints r as one indented JSON object when --json is on.
func (t *tool) printJSON(r *report) {
	if !t.json {
		return
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.errf("json: %v\n", err)
		return
	}
	t.out.Write(append(b, '\n'))
}
