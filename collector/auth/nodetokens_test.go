package auth

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// reviewer answers TokenReviews as the API server does for the tokens it
// knows: each maps to the user it authenticates, for the audiences given.
type reviewer struct {
	users   map[string]authenticationv1.UserInfo
	aud     map[string]string // the token's audience; default: the agents'
	down    atomic.Bool       // answer 503, as an API server that is unavailable
	reviews atomic.Int32
}

func (rv *reviewer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/apis/authentication.k8s.io/v1/tokenreviews" {
		http.NotFound(w, r)
		return
	}
	rv.reviews.Add(1)
	if rv.down.Load() {
		http.Error(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","code":503,"reason":"ServiceUnavailable"}`, http.StatusServiceUnavailable)
		return
	}
	var tr authenticationv1.TokenReview
	if err := json.NewDecoder(r.Body).Decode(&tr); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	aud := DefaultAgentAudience
	if a, ok := rv.aud[tr.Spec.Token]; ok {
		aud = a
	}
	u, ok := rv.users[tr.Spec.Token]
	// The API server refuses a token issued for none of the audiences asked.
	if ok && (len(tr.Spec.Audiences) == 0 || tr.Spec.Audiences[0] == aud) {
		tr.Status = authenticationv1.TokenReviewStatus{Authenticated: true, User: u, Audiences: []string{aud}}
	} else {
		tr.Status = authenticationv1.TokenReviewStatus{Error: "token is not valid"}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(&tr)
}

func saUser(ns, name, node string) authenticationv1.UserInfo {
	u := authenticationv1.UserInfo{Username: "system:serviceaccount:" + ns + ":" + name}
	if node != "" {
		u.Extra = map[string]authenticationv1.ExtraValue{"authentication.kubernetes.io/node-name": {node}}
	}
	return u
}

// TestNodeBoundAgentTokens drives the check of agents' ServiceAccount
// tokens through client-go against an HTTP server that answers
// TokenReviews: which tokens admit an agent, with which node, and how each
// refusal is answered and counted.
func TestNodeBoundAgentTokens(t *testing.T) {
	rv := &reviewer{
		users: map[string]authenticationv1.UserInfo{
			"tok-node-a":        saUser("graceline", "graceline-agent", "node-a"),
			"tok-node-b":        saUser("graceline", "graceline-agent", "node-b"),
			"tok-other-sa":      saUser("graceline", "graceline-collector", "node-a"),
			"tok-other-ns":      saUser("team-a", "graceline-agent", "node-a"),
			"tok-unbound":       saUser("graceline", "graceline-agent", ""),
			"tok-for-the-api":   saUser("graceline", "graceline-agent", "node-a"),
			"tok-review-broken": saUser("graceline", "graceline-agent", "node-a"),
		},
		aud: map[string]string{"tok-for-the-api": "https://kubernetes.default.svc"},
	}
	srv := httptest.NewServer(rv)
	defer srv.Close()
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	// Failed reviews are retried twice, at once, not over the default's
	// seconds.
	nodes, err := newNodeTokens(cs.AuthenticationV1(), NodeTokensConfig{ServiceAccount: "graceline/graceline-agent"}, wait.Backoff{Duration: time.Millisecond, Steps: 2})
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := ParseTokens([]byte("agent static-agent-token-0123\nreader static-reader-token-0123\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := NewChecker(tokens, nodes, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))

	tests := []struct {
		name     string
		method   string
		token    string
		down     bool
		wantCode codes.Code
		wantNode string // the node the call is bound to; empty: none
		reason   string // the refusal counted; empty: none
	}{
		{"a token bound to node A admits an agent for node A", ingestMethod, "tok-node-a", false, codes.OK, "node-a", ""},
		{"a token bound to node B admits an agent for node B", ingestMethod, "tok-node-b", false, codes.OK, "node-b", ""},
		{"a static agent token admits an agent bound to no node", ingestMethod, "static-agent-token-0123", false, codes.OK, "", ""},
		{"a token of another ServiceAccount is forbidden", ingestMethod, "tok-other-sa", false, codes.PermissionDenied, "", reasonWrongAccount},
		{"a token of a same-named ServiceAccount in another namespace is forbidden", ingestMethod, "tok-other-ns", false, codes.PermissionDenied, "", reasonWrongAccount},
		{"a token of the agents' ServiceAccount bound to no node is forbidden", ingestMethod, "tok-unbound", false, codes.PermissionDenied, "", reasonUnbound},
		{"a token issued for the API server, not the collector, is invalid", ingestMethod, "tok-for-the-api", false, codes.Unauthenticated, "", reasonInvalid},
		{"a token the API server does not know is invalid", ingestMethod, "tok-unknown", false, codes.Unauthenticated, "", reasonInvalid},
		{"an API server that cannot answer makes the agent retry", ingestMethod, "tok-review-broken", true, codes.Unavailable, "", reasonReviewFailed},
		{"a ServiceAccount token never reads: queries need a reader token", queryMethod, "tok-node-a", false, codes.Unauthenticated, "", reasonInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rv.down.Store(tt.down)
			api, _, _ := grpcRole(tt.method)
			before := map[string]float64{}
			for _, r := range []string{reasonInvalid, reasonWrongAccount, reasonUnbound, reasonReviewFailed} {
				before[r] = testutil.ToFloat64(c.refused.WithLabelValues(api, r))
			}
			ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+tt.token))
			ctx, err := c.authorize(ctx, tt.method)
			if got := status.Code(err); got != tt.wantCode {
				t.Fatalf("code %v (%v), want %v", got, err, tt.wantCode)
			}
			node, bound := BoundNode(ctx)
			if node != tt.wantNode || bound != (tt.wantNode != "") {
				t.Errorf("bound node %q (%v), want %q", node, bound, tt.wantNode)
			}
			for r, n := range before {
				want := n
				if r == tt.reason {
					want++
				}
				if got := testutil.ToFloat64(c.refused.WithLabelValues(api, r)); got != want {
					t.Errorf("graceline_collector_auth_refused_total{api=%q,reason=%q} = %v, want %v", api, r, got, want)
				}
			}
		})
	}

	t.Run("a token reviewed a moment ago is not reviewed again", func(t *testing.T) {
		rv.down.Store(false)
		ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer tok-node-a"))
		n := rv.reviews.Load()
		if _, err := c.authorize(ctx, ingestMethod); err != nil {
			t.Fatal(err)
		}
		if got := rv.reviews.Load(); got != n {
			t.Errorf("%d more reviews, want none: the answer is cached", got-n)
		}
	})
}

const (
	ingestMethod = "/graceline.v1.Ingest/Stream"
	queryMethod  = "/graceline.v1.Query/Timeline"
)

func TestNodeTokensConfigRefusesAnAccountWithoutItsNamespace(t *testing.T) {
	for _, sa := range []string{"graceline-agent", "/graceline-agent", "graceline/", "Graceline/agent", "a/b/c"} {
		if err := (NodeTokensConfig{ServiceAccount: sa}).Validate(); err == nil {
			t.Errorf("%q accepted, want NAMESPACE/NAME", sa)
		}
	}
	if err := (NodeTokensConfig{ServiceAccount: "graceline/graceline-agent"}).Validate(); err != nil {
		t.Errorf("graceline/graceline-agent: %v", err)
	}
}
