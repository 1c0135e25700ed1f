package query

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/graceline/graceline/collector/store"
	"github.com/graceline/graceline/collector/watch"
)

func TestReportRefusesWhatNamesNoWindow(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := NewService(st, watch.NewHub(prometheus.NewRegistry()), prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	tests := []struct {
		name      string
		namespace string
		since     time.Time
		want      string // "" for success
	}{
		{"A window of the last day is answered.", "shop", time.Now().Add(-24 * time.Hour), ""},
		{"A report without a start is refused.", "", time.Time{}, "needs the start"},
		{"A start in the future is refused.", "", time.Now().Add(time.Hour), "in the future"},
		{"A namespace longer than Kubernetes allows is refused.", strings.Repeat("n", 64), time.Now().Add(-time.Hour), "at most 63"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.Report(ctx, tc.namespace, tc.since)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Report: %v", err)
			case tc.want != "" && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Report error = %v, want an invalid request saying %q", err, tc.want)
			}
		})
	}
}
