package ingest

import (
	"sync"
	"time"
)

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
		s = &agentSeen{}
		a.nodes[node] = s
	}
	s.last = at
	if opened {
		s.open++
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
