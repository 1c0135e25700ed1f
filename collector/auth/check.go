package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/graceline/graceline/internal/ratelog"
)

// Why a request was refused, as metric labels.
const (
	reasonMissing   = "missing_token"
	reasonInvalid   = "invalid_token"
	reasonForbidden = "wrong_role"
)

var (
	errMissing = errors.New(`missing bearer token: send the header "authorization: Bearer <token>"`)
	errInvalid = errors.New("invalid bearer token")
)

// refusalEvery is how often a stream of refusals is summed up in the log:
// the first of each API and reason is logged with its peer, the rest
// counted.
const refusalEvery = 10 * time.Second

// Checker authenticates requests, and counts and logs refusals.
type Checker struct {
	tokens *Tokens
	// nodes, when set, also admits agents by their node-bound
	// ServiceAccount tokens.
	nodes    *NodeTokens
	refused  *prometheus.CounterVec
	refusals *ratelog.Logger
	reloads  *prometheus.CounterVec
	log      *slog.Logger
}

// NewChecker returns a Checker for tokens whose metric is registered with
// reg. With nodes, an agent may also present a ServiceAccount token bound to
// its node instead of a static agent token; nil admits static tokens only.
func NewChecker(tokens *Tokens, nodes *NodeTokens, reg prometheus.Registerer, log *slog.Logger) *Checker {
	c := &Checker{
		tokens: tokens,
		nodes:  nodes,
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graceline_collector_auth_refused_total", Help: "Requests refused for want of a valid token, by API and reason.",
		}, []string{"api", "reason"}),
		refusals: ratelog.New(log, slog.LevelWarn, refusalEvery, nil),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graceline_collector_token_reloads_total", Help: "Changes of the token file read, by result: ok (tokens replaced) or invalid (last good tokens kept).",
		}, []string{"result"}),
		log: log,
	}
	reg.MustRegister(c.refused, c.reloads)
	for _, r := range []string{reloadOK, reloadInvalid} {
		c.reloads.WithLabelValues(r)
	}
	for _, api := range []string{"ingest", "query", "http"} {
		for _, r := range []string{reasonMissing, reasonInvalid, reasonForbidden} {
			c.refused.WithLabelValues(api, r)
		}
	}
	if nodes != nil {
		for _, r := range []string{reasonWrongAccount, reasonUnbound, reasonReviewFailed} {
			c.refused.WithLabelValues("ingest", r)
		}
	}
	return c
}

// check returns nil when header (an authorization value) grants role; the
// error says why not, and its reason is counted under api. An agent
// admitted by a node-bound ServiceAccount token gets its node; a static
// token gives none.
func (c *Checker) check(ctx context.Context, api, header string, role Role, from string) (node, reason string, err error) {
	token, ok := strings.CutPrefix(header, "Bearer ")
	token = strings.TrimSpace(token)
	switch known, allowed := c.tokens.Has(token, role); {
	case !ok || token == "":
		reason, err = reasonMissing, errMissing
	case known && allowed:
		return "", "", nil
	case known:
		reason, err = reasonForbidden, fmt.Errorf("token not allowed here: %s needs a token of role %s", api, role)
	case role == RoleAgent && c.nodes != nil:
		// Only agents are reviewed: a reader's unknown token never
		// reaches the API server.
		if node, reason, err = c.nodes.node(ctx, token); reason == "" {
			return node, "", nil
		}
	default:
		reason, err = reasonInvalid, errInvalid
	}
	c.refused.WithLabelValues(api, reason).Inc()
	c.refusals.Log(api+"/"+reason, "request refused", "api", api, "reason", reason, "peer", from, "err", err)
	return "", reason, err
}

// nodeKey keys the node an agent's token is bound to in a call's context.
type nodeKey struct{}

// BoundNode returns the node that the caller's credential is bound to, for
// a call admitted by a node-bound ServiceAccount token; ok is false for a
// static token, which may write for any one node.
func BoundNode(ctx context.Context) (node string, ok bool) {
	node, ok = ctx.Value(nodeKey{}).(string)
	return node, ok
}

// grpcRole maps a full method name to the API it belongs to and the role
// it needs. Anything not listed is refused.
func grpcRole(method string) (api string, role Role, ok bool) {
	switch {
	case strings.HasPrefix(method, "/graceline.v1.Ingest/"):
		return "ingest", RoleAgent, true
	case strings.HasPrefix(method, "/graceline.v1.Query/"):
		return "query", RoleReader, true
	}
	return "", "", false
}

// authorize returns ctx, with the caller's bound node when it has one, or
// the refusal as a gRPC status.
func (c *Checker) authorize(ctx context.Context, method string) (context.Context, error) {
	api, role, ok := grpcRole(method)
	if !ok {
		return ctx, status.Errorf(codes.PermissionDenied, "method %s is not served", method)
	}
	var header string
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("authorization"); len(v) > 0 {
			header = v[0]
		}
	}
	from := "unknown"
	if p, ok := peer.FromContext(ctx); ok {
		from = p.Addr.String()
	}
	node, reason, err := c.check(ctx, api, header, role, from)
	switch reason {
	case "":
		if node != "" {
			ctx = context.WithValue(ctx, nodeKey{}, node)
		}
		return ctx, nil
	case reasonForbidden, reasonWrongAccount, reasonUnbound:
		return ctx, status.Error(codes.PermissionDenied, err.Error())
	case reasonReviewFailed:
		// The agent retries with backoff, as for a collector that is down.
		return ctx, status.Error(codes.Unavailable, err.Error())
	}
	return ctx, status.Error(codes.Unauthenticated, err.Error())
}

// UnaryInterceptor authenticates unary calls.
func (c *Checker) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := c.authorize(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamInterceptor authenticates streams when they open.
func (c *Checker) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := c.authorize(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		return handler(srv, &boundStream{ServerStream: ss, ctx: ctx})
	}
}

// boundStream is a stream whose context carries what authorize learned.
type boundStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *boundStream) Context() context.Context { return s.ctx }

// HTTP wraps h so that it requires a token with role.
func (c *Checker) HTTP(role Role, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, reason, err := c.check(r.Context(), "http", r.Header.Get("Authorization"), role, r.RemoteAddr)
		switch reason {
		case "":
			h.ServeHTTP(w, r)
			return
		case reasonForbidden:
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="graceline"`)
		http.Error(w, err.Error(), http.StatusUnauthorized)
	})
}

// ReaderToken returns nil when token may read, as a bearer token would on
// the HTTP API; a refusal is counted and logged like one. The web UI checks
// the token a reader types into its login form with it, before it keeps
// the token in a cookie.
func (c *Checker) ReaderToken(token, from string) error {
	_, _, err := c.check(context.Background(), "http", "Bearer "+token, RoleReader, from)
	return err
}
