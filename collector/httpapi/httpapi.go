// Package httpapi serves the query API as HTTP and JSON lines, for curl and
// scripts. Every answer is in the event contract's JSON form, one event per
// line, exactly as `graceline-agent --output -` prints them.
package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/query"
	"github.com/graceline/graceline/collector/store"
	"github.com/graceline/graceline/collector/watch"
)

// Querier is the query service the handlers call.
type Querier interface {
	Timeline(ctx context.Context, namespace, name, uid string) ([]*apiv1.Event, *apiv1.Event, error)
	List(ctx context.Context, f query.ListFilter) ([]*apiv1.Event, error)
	Stuck(ctx context.Context, namespace, node string) ([]*apiv1.Event, error)
	Watch(ctx context.Context, f watch.Filter, ready func() error, send func(*apiv1.Event) error) error
	Report(ctx context.Context, namespace string, since time.Time) ([]*apiv1.WorkloadReport, error)
	Check(ctx context.Context, f query.CheckFilter, now time.Time) ([]*apiv1.ContainerCheck, error)
}

// Handler returns the API's routes:
//
//	GET /api/v1/namespaces/{namespace}/pods/{name}/timeline[?uid=]
//	GET /api/v1/namespaces/{namespace}/pods/{name}/summary[?uid=]
//	GET /api/v1/terminations[?namespace=&node=&verdict=&since=&limit=]
//	GET /api/v1/stuck[?namespace=&node=]
//	GET /api/v1/watch[?namespace=&node=&name=]
//	GET /api/v1/report?since=[&namespace=]
//	GET /api/v1/check[?namespace=&pod=&workload=KIND/NAME&since=]
//
// since is an RFC 3339 time or a positive duration back from now ("1h");
// query.ListFilter.Validate says what each parameter accepts. report
// answers one WorkloadReport per line, in the same JSON form, and check
// one ContainerCheck per running container, as `kubectl graceline check
// -o json` prints them (its since is where the history starts, seven days
// back by default). summary
// answers the pod's termination summary as the CLI's timeline heads it
// (the node's summary joined with the cluster side's), one line, or no
// line while the pod has none.
func Handler(q Querier) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/namespaces/{namespace}/pods/{name}/timeline", func(w http.ResponseWriter, r *http.Request) {
		events, _, err := q.Timeline(r.Context(), r.PathValue("namespace"), r.PathValue("name"), r.URL.Query().Get("uid"))
		writeEvents(w, events, err)
	})
	mux.HandleFunc("GET /api/v1/namespaces/{namespace}/pods/{name}/summary", func(w http.ResponseWriter, r *http.Request) {
		_, summary, err := q.Timeline(r.Context(), r.PathValue("namespace"), r.PathValue("name"), r.URL.Query().Get("uid"))
		var events []*apiv1.Event
		if summary != nil {
			events = append(events, summary)
		}
		writeEvents(w, events, err)
	})
	mux.HandleFunc("GET /api/v1/terminations", func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query()
		f := query.ListFilter{Namespace: v.Get("namespace"), Node: v.Get("node"), Verdict: v.Get("verdict")}
		var err error
		if f.Since, err = query.ParseSince(v.Get("since"), time.Now()); err != nil {
			writeError(w, err)
			return
		}
		if f.Limit, err = query.ParseLimit(v.Get("limit")); err != nil {
			writeError(w, err)
			return
		}
		events, err := q.List(r.Context(), f)
		writeEvents(w, events, err)
	})
	mux.HandleFunc("GET /api/v1/stuck", func(w http.ResponseWriter, r *http.Request) {
		events, err := q.Stuck(r.Context(), r.URL.Query().Get("namespace"), r.URL.Query().Get("node"))
		writeEvents(w, events, err)
	})
	mux.HandleFunc("GET /api/v1/report", func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query()
		since, err := query.ParseSince(v.Get("since"), time.Now())
		if err != nil {
			writeError(w, err)
			return
		}
		reports, err := q.Report(r.Context(), v.Get("namespace"), since)
		writeMessages(w, reports, err)
	})
	mux.HandleFunc("GET /api/v1/check", func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query()
		now := time.Now()
		f := query.CheckFilter{Namespace: v.Get("namespace"), Pod: v.Get("pod")}
		if wl := v.Get("workload"); wl != "" {
			kind, name, ok := strings.Cut(wl, "/")
			if !ok {
				writeError(w, fmt.Errorf("%w: workload: want KIND/NAME such as Deployment/web, got %.*q", query.ErrInvalid, maxEcho, wl))
				return
			}
			f.Workload = &apiv1.WorkloadRef{Kind: kind, Name: name}
		}
		var err error
		if f.Since, err = query.ParseSince(v.Get("since"), now); err != nil {
			writeError(w, err)
			return
		}
		checks, err := q.Check(r.Context(), f, now)
		writeMessages(w, checks, err)
	})
	mux.HandleFunc("GET /api/v1/watch", func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query()
		f := watch.Filter{Namespace: v.Get("namespace"), Node: v.Get("node"), Name: v.Get("name")}
		flusher, _ := w.(http.Flusher)
		started := false
		// The status line goes out once the subscription is in place, so a
		// client that has it misses nothing stored afterwards.
		ready := func() error {
			started = true
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.Header().Set("Trailer", errorTrailer)
			w.WriteHeader(http.StatusOK)
			if flusher != nil {
				flusher.Flush()
			}
			return nil
		}
		err := q.Watch(r.Context(), f, ready, func(e *apiv1.Event) error {
			b, err := apiv1.MarshalJSONLine(e)
			if err != nil {
				// The service repairs what it can; an event still beyond
				// JSON is left out rather than ending everyone's stream.
				return nil
			}
			if _, err := w.Write(append(b, '\n')); err != nil {
				return fmt.Errorf("write event: %w", err)
			}
			if flusher != nil {
				flusher.Flush()
			}
			return nil
		})
		switch {
		case err != nil && !started:
			// A refused watch has no stream yet: its status says why.
			writeError(w, err)
		case err != nil:
			// The status line is sent: the reason the stream ended goes in a
			// trailer, so that every line stays an event.
			w.Header().Set(errorTrailer, err.Error())
		}
	})
	return mux
}

// errorTrailer carries why a watch stream ended early.
const errorTrailer = "X-Graceline-Error"

// skippedHeader counts the events a listing left out because they could not
// be encoded, so that a short answer never passes for a complete one.
const skippedHeader = "X-Graceline-Skipped"

// writeEvents answers with events as JSON lines. Every line is encoded
// before the status goes out (answers are bounded by the listing's limit),
// so that an event that cannot be encoded never cuts a 200 answer short.
func writeEvents(w http.ResponseWriter, events []*apiv1.Event, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	var body bytes.Buffer
	skipped := 0
	for _, e := range events {
		b, err := apiv1.MarshalJSONLine(e)
		if err != nil {
			skipped++
			continue
		}
		body.Write(b)
		body.WriteByte('\n')
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	if skipped > 0 {
		w.Header().Set(skippedHeader, strconv.Itoa(skipped))
	}
	w.Write(body.Bytes())
}

// writeMessages answers with msgs as JSON lines, in the event contract's
// JSON form. Every line is encoded before the status goes out.
func writeMessages[M proto.Message](w http.ResponseWriter, msgs []M, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	var body bytes.Buffer
	for _, m := range msgs {
		b, err := apiv1.MarshalJSONMessage(m)
		if err != nil {
			writeError(w, fmt.Errorf("encode answer: %w", err))
			return
		}
		body.Write(b)
		body.WriteByte('\n')
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Write(body.Bytes())
}

// maxEcho bounds how much of a bad parameter an error repeats.
const maxEcho = 64

// writeError answers with the status that err calls for.
func writeError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, store.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, query.ErrInvalid):
		code = http.StatusBadRequest
	}
	http.Error(w, err.Error(), code)
}
