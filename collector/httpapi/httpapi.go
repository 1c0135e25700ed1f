// Package httpapi serves the query API as HTTP and JSON lines, for curl and
// scripts. Every answer is in the event contract's JSON form, one event per
// line, exactly as `graceline-agent --output -` prints them.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

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
}

// Handler returns the API's routes:
//
//	GET /api/v1/namespaces/{namespace}/pods/{name}/timeline[?uid=]
//	GET /api/v1/terminations[?namespace=&node=&verdict=&since=&limit=]
//	GET /api/v1/stuck[?namespace=&node=]
//	GET /api/v1/watch[?namespace=&node=&name=]
//
// since is an RFC 3339 time or a duration back from now ("1h").
func Handler(q Querier) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/namespaces/{namespace}/pods/{name}/timeline", func(w http.ResponseWriter, r *http.Request) {
		events, _, err := q.Timeline(r.Context(), r.PathValue("namespace"), r.PathValue("name"), r.URL.Query().Get("uid"))
		writeEvents(w, events, err)
	})
	mux.HandleFunc("GET /api/v1/terminations", func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query()
		f := query.ListFilter{Namespace: v.Get("namespace"), Node: v.Get("node"), Verdict: v.Get("verdict")}
		var err error
		if f.Since, err = parseSince(v.Get("since"), time.Now()); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if s := v.Get("limit"); s != "" {
			if f.Limit, err = strconv.Atoi(s); err != nil {
				http.Error(w, "limit: "+err.Error(), http.StatusBadRequest)
				return
			}
		}
		events, err := q.List(r.Context(), f)
		writeEvents(w, events, err)
	})
	mux.HandleFunc("GET /api/v1/stuck", func(w http.ResponseWriter, r *http.Request) {
		events, err := q.Stuck(r.Context(), r.URL.Query().Get("namespace"), r.URL.Query().Get("node"))
		writeEvents(w, events, err)
	})
	mux.HandleFunc("GET /api/v1/watch", func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query()
		f := watch.Filter{Namespace: v.Get("namespace"), Node: v.Get("node"), Name: v.Get("name")}
		flusher, _ := w.(http.Flusher)
		// The status line goes out once the subscription is in place, so a
		// client that has it misses nothing stored afterwards.
		ready := func() error {
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.Header().Set("Trailer", errorTrailer)
			w.WriteHeader(http.StatusOK)
			if flusher != nil {
				flusher.Flush()
			}
			return nil
		}
		err := q.Watch(r.Context(), f, ready, func(e *apiv1.Event) error {
			if err := writeLine(w, e); err != nil {
				return err
			}
			if flusher != nil {
				flusher.Flush()
			}
			return nil
		})
		if err != nil {
			// The status line is sent: the reason the stream ended goes in a
			// trailer, so that every line stays an event.
			w.Header().Set(errorTrailer, err.Error())
		}
	})
	return mux
}

// errorTrailer carries why a watch stream ended early.
const errorTrailer = "X-Graceline-Error"

// parseSince accepts an RFC 3339 time or a duration before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("since: want an RFC 3339 time or a duration, got %q", s)
	}
	return t, nil
}

func writeEvents(w http.ResponseWriter, events []*apiv1.Event, err error) {
	if err != nil {
		code := http.StatusInternalServerError
		switch {
		case errors.Is(err, store.ErrNotFound):
			code = http.StatusNotFound
		case errors.Is(err, query.ErrInvalid):
			code = http.StatusBadRequest
		}
		http.Error(w, err.Error(), code)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	for _, e := range events {
		if err := writeLine(w, e); err != nil {
			return
		}
	}
}

func writeLine(w http.ResponseWriter, e *apiv1.Event) error {
	b, err := apiv1.MarshalJSONLine(e)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write event: %w", err)
	}
	return nil
}
