package ingest

import (
	"sync"
	"time"
)

// maxAgentNodes bounds the nodes Agents remembers. Past it, the node whose
// agent went quiet longest is forgotten, so that streams naming ever new
// nodes cannot grow it.
const maxAgentNodes = 10000

// Agents remembers, per node, whether its agent has a stream open and when
// its last batch came: the cluster side's evidence for a node that never
// acts on a deletion.
type Agents struct {
	mu    sync.Mutex
	nodes map[string]*agentSeen
}

type agentSeen struct {
	open int
	last time.Time
}

// NewAgents returns an empty Agents.
func NewAgents() *Agents { return &Agents{nodes: map[string]*agentSeen{}} }

func (a *Agents) seen(node string, at time.Time, opened bool) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.nodes[node]
	if s == nil {
		if len(a.nodes) >= maxAgentNodes {
			a.forgetQuietest()
		}
		s = &agentSeen{}
		a.nodes[node] = s
	}
	s.last = at
	if opened {
		s.open++
	}
}

// forgetQuietest drops the node without an open stream whose last batch is
// oldest. It scans every node, but only when a new node comes to a full
// map.
func (a *Agents) forgetQuietest() {
	var oldest string
	var at time.Time
	for n, s := range a.nodes {
		if s.open == 0 && (oldest == "" || s.last.Before(at)) {
			oldest, at = n, s.last
		}
	}
	if oldest != "" {
		delete(a.nodes, oldest)
	}
}

func (a *Agents) closed(node string) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if s := a.nodes[node]; s != nil && s.open > 0 {
		s.open--
	}
}

// Agent tells whether node's agent has a stream open now, and when its
// last batch came (zero: never since the collector started).
func (a *Agents) Agent(node string) (connected bool, lastBatch time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.nodes[node]
	if s == nil {
		return false, time.Time{}
	}
	return s.open > 0, s.last
}
