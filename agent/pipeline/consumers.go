package pipeline

import (
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/cri"
)

// Subscribers is a stage that hands the tracker's changes to subs, as the
// tracker itself would, and ignores events.
func Subscribers(subs ...cri.Subscriber) Consumer { return subscribers(subs) }

type subscribers []cri.Subscriber

func (s subscribers) Consume(it Item) {
	for _, sub := range s {
		switch {
		case it.Container != nil:
			sub.ContainerChanged(*it.Container)
		case it.Sandbox != nil:
			sub.SandboxChanged(*it.Sandbox)
		case it.Listing != nil:
			if l, ok := sub.(cri.Lister); ok {
				l.Listed(*it.Listing)
			}
		}
	}
}

// Events is a stage that hands every event to fn, and ignores changes.
func Events(fn func(*apiv1.Event)) Consumer { return events(fn) }

type events func(*apiv1.Event)

func (f events) Consume(it Item) {
	if it.Event != nil {
		f(it.Event)
	}
}
