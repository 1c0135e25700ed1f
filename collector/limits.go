package collector

import (
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// Limits for every client, authenticated or not. A client learns of a
// token only after the server has read its request, so these bound what a
// client can cost before the token is checked.
const (
	// DefaultMaxConnections bounds the open connections of each listener;
	// past it, new connections wait in the kernel's backlog, which costs
	// the collector no descriptor.
	DefaultMaxConnections = 2048

	// maxHeaderBytes bounds a request's headers, gRPC metadata included.
	// A token is under a hundred bytes; a few KiB is generous.
	maxHeaderBytes = 8 << 10
	// maxStreamsPerConn bounds the calls open on one gRPC connection. An
	// agent needs one stream, kubectl-graceline one call at a time.
	maxStreamsPerConn = 16
	// handshakeTimeout bounds a new connection's TLS and HTTP/2 handshake.
	handshakeTimeout = 10 * time.Second
	// windowBytes is the gRPC flow-control window, per stream and per
	// connection. A fixed window turns off the growth that would let one
	// connection make the collector buffer 16 MiB.
	windowBytes = 1 << 20

	// watchWriteTimeout bounds each write of a watch.
	watchWriteTimeout = 30 * time.Second
)

// connTimes are the times after which connections are closed. They are
// fields rather than constants so that tests can shorten them.
type connTimes struct {
	// grpcIdle closes a gRPC connection that has carried no call for this
	// long; agents and kubectl-graceline dial again when needed.
	grpcIdle time.Duration
	// grpcAge asks a client to move on to a new connection, and
	// grpcAgeGrace is how long its calls have to finish. An agent's stream
	// then resumes on the new connection, resending what was in flight,
	// which the store keeps once.
	grpcAge, grpcAgeGrace time.Duration
	// HTTP: the header must come within httpHeader and the whole request
	// within httpRead; an answer must be written within httpWrite, except
	// for a watch, which lives as long as its client reads (each write
	// within watchWriteTimeout); a keep-alive connection closes after
	// httpIdle without a request.
	httpHeader, httpRead, httpWrite, httpIdle time.Duration
}

var defaultConnTimes = connTimes{
	grpcIdle: 5 * time.Minute, grpcAge: 2 * time.Hour, grpcAgeGrace: time.Minute,
	httpHeader: 5 * time.Second, httpRead: 30 * time.Second, httpWrite: 2 * time.Minute, httpIdle: 90 * time.Second,
}

// grpcLimits are the server options that bound every gRPC client.
func grpcLimits(maxMessage int, ct connTimes) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(maxMessage),
		grpc.MaxHeaderListSize(maxHeaderBytes),
		grpc.MaxConcurrentStreams(maxStreamsPerConn),
		grpc.ConnectionTimeout(handshakeTimeout),
		grpc.InitialWindowSize(windowBytes),
		grpc.InitialConnWindowSize(windowBytes),
		// Agents ping every 30 s to notice a dead collector; allow it, and
		// close connections that ping more often.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle:     ct.grpcIdle,
			MaxConnectionAge:      ct.grpcAge,
			MaxConnectionAgeGrace: ct.grpcAgeGrace,
			Time:                  time.Minute,
			Timeout:               20 * time.Second,
		}),
	}
}

// limitListener caps a listener's open connections.
func limitListener(ln net.Listener, n int) net.Listener { return netutil.LimitListener(ln, n) }

// newHTTPServer returns an HTTP server with every timeout set.
func newHTTPServer(h http.Handler, ct connTimes) *http.Server {
	return &http.Server{
		Handler:           refuseBodies(watchDeadlines(h)),
		ReadHeaderTimeout: ct.httpHeader,
		ReadTimeout:       ct.httpRead,
		WriteTimeout:      ct.httpWrite,
		IdleTimeout:       ct.httpIdle,
		MaxHeaderBytes:    maxHeaderBytes,
	}
}

// maxLoginBody bounds the web UI's login form, the one request with a body.
const maxLoginBody = 4096

// refuseBodies answers a request that carries a body with 413 and closes
// the connection. Every route but the web UI's login form is a GET; a body
// is never read, and a client that announces one and never sends it must
// not hold a connection. The login form's body is small and announced, and
// its read is bounded by the server's read timeout.
func refuseBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		login := r.Method == http.MethodPost && r.URL.Path == "/ui/login" && r.ContentLength > 0 && r.ContentLength <= maxLoginBody
		if r.ContentLength != 0 && !login {
			w.Header().Set("Connection", "close")
			http.Error(w, "request bodies are not accepted: every route is a GET", http.StatusRequestEntityTooLarge)
			// The server would otherwise wait for the body to discard it;
			// an expired read deadline makes it close the connection now.
			// The answer is flushed first: the expired deadline also ends
			// the server's background read, which can close the
			// connection before a buffered answer was written, and the
			// client would see a bare close instead of the 413.
			rc := http.NewResponseController(w)
			_ = rc.Flush()
			_ = rc.SetReadDeadline(time.Now())
			return
		}
		next.ServeHTTP(w, r)
	})
}

// watchDeadlines lifts the read and write timeouts for a watch, which lasts
// as long as its client wants, and bounds each write instead, so that a
// client that stops reading is dropped.
func watchDeadlines(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/watch" && r.URL.Path != "/ui/api/v1/watch" {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		// Errors mean the connection cannot take deadlines (HTTP/2 before
		// Go supported it); the server's timeouts then stay.
		_ = rc.SetReadDeadline(time.Time{})
		_ = rc.SetWriteDeadline(time.Now().Add(watchWriteTimeout))
		next.ServeHTTP(&deadlineWriter{ResponseWriter: w, rc: rc}, r)
	})
}

// deadlineWriter renews the write deadline before every write.
type deadlineWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
}

func (d *deadlineWriter) Write(b []byte) (int, error) {
	_ = d.rc.SetWriteDeadline(time.Now().Add(watchWriteTimeout))
	return d.ResponseWriter.Write(b)
}

func (d *deadlineWriter) Flush() {
	_ = d.rc.SetWriteDeadline(time.Now().Add(watchWriteTimeout))
	_ = d.rc.Flush()
}

// Unwrap lets http.ResponseController reach the connection.
func (d *deadlineWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }
