package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// CRIProxy is a transparent gRPC proxy in front of a runtime's socket that
// records which methods its clients call. It is how a test sees what the
// agent asks of the runtime: every call, CRI's and containerd's own, reaches
// the real runtime unchanged, and its answer comes back unchanged.
type CRIProxy struct {
	// Address is the proxy's socket; point the client's endpoint at
	// "unix://"+Address.
	Address string

	conn *grpc.ClientConn
	srv  *grpc.Server

	mu    sync.Mutex
	calls map[string]int
}

// StartCRIProxy listens on a socket in dir and forwards every call to the
// runtime's socket at target.
func StartCRIProxy(dir, target string) (*CRIProxy, error) {
	conn, err := grpc.NewClient("unix://"+target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("dial runtime %s: %w", target, err)
	}
	p := &CRIProxy{Address: filepath.Join(dir, "cri-proxy.sock"), conn: conn, calls: map[string]int{}}
	l, err := net.Listen("unix", p.Address)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("listen on %s: %w", p.Address, err)
	}
	p.srv = grpc.NewServer(grpc.ForceServerCodec(rawCodec{}), grpc.UnknownServiceHandler(p.forward))
	go p.srv.Serve(l)
	return p, nil
}

// Calls returns how many times each method ("/runtime.v1.RuntimeService/
// ListContainers") was called so far.
func (p *CRIProxy) Calls() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.calls))
	for k, v := range p.calls {
		out[k] = v
	}
	return out
}

// Close stops the proxy and its connection to the runtime.
func (p *CRIProxy) Close() {
	p.srv.Stop()
	p.conn.Close()
}

// forward runs one call, of any shape, as a bidirectional stream of raw
// messages: the client's messages go to the runtime until the client
// closes its side, and the runtime's come back until it ends the call,
// whose status the client then gets.
func (p *CRIProxy) forward(_ any, ss grpc.ServerStream) error {
	method, ok := grpc.MethodFromServerStream(ss)
	if !ok {
		return errors.New("cri proxy: no method in the stream")
	}
	p.mu.Lock()
	p.calls[method]++
	p.mu.Unlock()
	ctx, cancel := context.WithCancel(ss.Context())
	defer cancel()
	md, _ := metadata.FromIncomingContext(ss.Context())
	ctx = metadata.NewOutgoingContext(ctx, md.Copy())
	cs, err := p.conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, method, grpc.ForceCodec(rawCodec{}))
	if err != nil {
		return err
	}
	go func() {
		for {
			var m []byte
			if err := ss.RecvMsg(&m); err != nil {
				// The client is done sending (io.EOF) or gone; either way
				// the runtime hears no more.
				cs.CloseSend()
				return
			}
			if err := cs.SendMsg(&m); err != nil {
				return
			}
		}
	}()
	for {
		var m []byte
		if err := cs.RecvMsg(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := ss.SendMsg(&m); err != nil {
			return err
		}
	}
}

// rawCodec passes messages through as the bytes they are on the wire.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("cri proxy: marshal %T, want *[]byte", v)
	}
	return *b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("cri proxy: unmarshal into %T, want *[]byte", v)
	}
	*b = append((*b)[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }
