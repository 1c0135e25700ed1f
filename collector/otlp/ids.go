package otlp

import (
	"crypto/sha256"

	"go.opentelemetry.io/otel/trace"
)

// idVersion is part of every hash, so that a change in how traces are laid
// out can move to new IDs on purpose rather than by accident.
const idVersion = "graceline/otlp/v1"

// Trace IDs come from what names one termination, never from a clock or a
// random source: a pod's UID names its one deletion (a UID is never reused,
// and a pod is deleted once), a container's runtime ID names its one stop.
// A trace sent again, after a collector restart or a backend outage, is
// then the same trace, and its spans the same spans.

// PodTraceID is the trace of pod uid's termination.
func PodTraceID(uid string) trace.TraceID {
	return trace.TraceID(hash16("pod", uid))
}

// ContainerTraceID is the trace of one container's own termination (a
// restart) in pod uid.
func ContainerTraceID(uid, containerID string) trace.TraceID {
	return trace.TraceID(hash16("container", uid, containerID))
}

// spanID names one span of trace tid by its name and, for spans of which a
// trace has several (one per container), what tells them apart.
func spanID(tid trace.TraceID, name, which string) trace.SpanID {
	h := sha256.New()
	h.Write([]byte(idVersion))
	h.Write(tid[:])
	h.Write([]byte{0})
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write([]byte(which))
	var id trace.SpanID
	copy(id[:], h.Sum(nil))
	if !id.IsValid() {
		id[7] = 1 // all zeroes is the invalid span ID; a 2^-64 chance
	}
	return id
}

func hash16(parts ...string) [16]byte {
	h := sha256.New()
	h.Write([]byte(idVersion))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	var id [16]byte
	copy(id[:], h.Sum(nil))
	if id == ([16]byte{}) {
		id[15] = 1 // all zeroes is the invalid trace ID; a 2^-128 chance
	}
	return id
}
