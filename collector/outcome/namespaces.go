package outcome

import "sync"

// Label values that no namespace can have: namespaces are DNS labels, which
// never hold an underscore.
const (
	// OverflowNamespace stands for every namespace past the cap.
	OverflowNamespace = "_other"
	// NoNamespace stands for a record that names none.
	NoNamespace = "_none"
)

// DefaultMaxNamespaces is how many namespaces get series of their own by
// default: enough for a cluster of many teams, few enough that the
// label-product of namespace, verdict and cause stays in the low
// thousands of series.
const DefaultMaxNamespaces = 200

// namespaces admits namespace label values up to a cap. The first max
// namespaces seen keep their own series for the collector's life; later
// ones share OverflowNamespace. Forgetting one would break its counters'
// continuity, so none is forgotten.
type namespaces struct {
	max  int
	mu   sync.Mutex
	seen map[string]struct{}
}

func newNamespaces(max int) *namespaces {
	return &namespaces{max: max, seen: map[string]struct{}{}}
}

// label returns the label value for ns, and false when ns is past the cap.
func (n *namespaces) label(ns string) (string, bool) {
	if ns == "" {
		return NoNamespace, true
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.seen[ns]; ok {
		return ns, true
	}
	if len(n.seen) >= n.max {
		return OverflowNamespace, false
	}
	n.seen[ns] = struct{}{}
	return ns, true
}
