package spool

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// Every event the spool loses is reported to the collector by an
// events_dropped event, so that the reports that reach it add up to every
// loss. A loss that cannot be reported at once (the disk that refused the
// event refuses the report too) is owed, and reported before the next event
// is written. The caller holds s.mu throughout.

// reportOrder is the order owed reports are written in; the map is not
// ordered, and the keys of reports must not depend on chance.
var reportOrder = []string{apiv1.DropReasonSpoolFull, apiv1.DropReasonSpoolWriteFailed, apiv1.DropReasonTooLarge}

// metricReason maps a drop reason to its label of graceline_spool_dropped_total.
var metricReason = map[string]string{
	apiv1.DropReasonSpoolFull:        dropFull,
	apiv1.DropReasonSpoolWriteFailed: dropWrite,
	apiv1.DropReasonTooLarge:         dropTooLarge,
}

// owe records n events lost for reason, to be reported.
func (s *Spool) owe(reason string, n uint64) {
	s.m.dropped.WithLabelValues(metricReason[reason]).Add(float64(n))
	s.owed[reason] += n
}

// lose records one event that could not be written. The first loss after a
// write worked is logged; the rest are only counted until a report of them
// is written.
func (s *Spool) lose(reason string) {
	if s.owed[reason] == 0 {
		s.log.Warn("spool cannot write events; counting them until it can", "reason", reason)
	}
	s.owe(reason, 1)
}

// prepare makes the spool ready to write an event: the run's epoch is saved
// (see epoch.go) and the losses owed are reported first, so that the
// collector learns of them before it sees the events that follow.
func (s *Spool) prepare() error {
	if !s.epochSaved {
		if err := saveEpoch(s.dir, s.epoch); err != nil {
			return err
		}
		s.epochSaved = true
	}
	for _, reason := range reportOrder {
		n := s.owed[reason]
		if n == 0 {
			continue
		}
		delete(s.owed, reason)
		if err := s.report(reason, n); err != nil {
			s.owed[reason] += n
			return err
		}
		if reason == apiv1.DropReasonSpoolWriteFailed {
			s.log.Info("spool writes again; reported the events it could not write", "lost", n)
		}
	}
	return nil
}

// report writes an events_dropped event for n events lost for reason.
func (s *Spool) report(reason string, n uint64) error {
	ev := &apiv1.Event{
		Kind: apiv1.KindEventsDropped, Time: timestamppb.New(s.opts.Now()), Node: s.opts.Node,
		Drop: &apiv1.Drop{Reason: reason, Count: n},
	}
	body, err := proto.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode spool drop report: %w", err)
	}
	if _, err := s.put(ev.Kind, body); err != nil {
		return fmt.Errorf("record spool drop: %w", err)
	}
	return nil
}

// makeRoom drops whole segments, raw lane first, until need more bytes fit,
// then records the loss as an events_dropped event in the priority lane.
// A drop report that is itself dropped passes its count on to the new one
// (as spool_full, whatever its own reason was), so the reports that reach
// the collector add up to every event lost. A report that cannot be written
// is owed.
func (s *Spool) makeRoom(need int64) error {
	var lost, carried uint64
	for s.bytes()+need > s.opts.MaxBytes {
		n, c, ok, err := s.lanes[laneRaw].dropOldest()
		if err == nil && !ok {
			n, c, ok, err = s.lanes[lanePriority].dropOldest()
		}
		if err = s.cursorErr(err); err != nil {
			s.owedFull(lost, carried)
			return err
		}
		if !ok {
			s.owedFull(lost, carried)
			return fmt.Errorf("spool cannot make room for %d bytes", need)
		}
		lost, carried = lost+n, carried+c
	}
	if lost+carried == 0 {
		return nil
	}
	s.m.dropped.WithLabelValues(dropFull).Add(float64(lost))
	s.log.Warn("spool full; dropped the oldest undelivered events", "dropped", lost, "max_bytes", s.opts.MaxBytes)
	if err := s.report(apiv1.DropReasonSpoolFull, lost+carried); err != nil {
		s.owed[apiv1.DropReasonSpoolFull] += lost + carried
		return err
	}
	return nil
}

// owedFull owes the report of a makeRoom that failed after dropping.
func (s *Spool) owedFull(lost, carried uint64) {
	s.m.dropped.WithLabelValues(dropFull).Add(float64(lost))
	s.owed[apiv1.DropReasonSpoolFull] += lost + carried
}
