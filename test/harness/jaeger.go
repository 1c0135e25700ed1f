package harness

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Jaeger is a Jaeger v2 all-in-one (built by hack/build-jaeger.sh) on
// loopback: OTLP in, memory storage, the query API out.
type Jaeger struct {
	// OTLP is the OTLP/gRPC receiver's address, Query the HTTP query API's.
	OTLP, Query string
	// Logs is what Jaeger wrote.
	Logs   *Buffer
	cmd    *exec.Cmd
	exited chan struct{}
}

// jaegerConfig is the all-in-one's pipeline with every listener on
// loopback and no other receiver or extension.
const jaegerConfig = `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: info
extensions:
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: %s
    grpc:
      endpoint: %s
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %s
      http:
        endpoint: %s
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`

// StartJaeger starts Jaeger with its configuration in dir and waits, up to
// a minute, for its query API to answer. Stop ends it.
func StartJaeger(dir string) (*Jaeger, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(root, "_output", "jaeger", "bin", "jaeger")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("find Jaeger (hack/build-jaeger.sh builds it; make test runs it): %w", err)
	}
	addrs := make([]any, 4)
	for i := range addrs {
		if addrs[i], err = FreeAddr(); err != nil {
			return nil, err
		}
	}
	cfg := filepath.Join(dir, "jaeger.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, jaegerConfig, addrs...), 0o600); err != nil {
		return nil, err
	}
	j := &Jaeger{Query: addrs[0].(string), OTLP: addrs[2].(string), Logs: &Buffer{}, exited: make(chan struct{})}
	j.cmd = exec.Command(bin, "--config", cfg)
	// Jaeger's own tracer would otherwise send its spans to localhost:4317.
	j.cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none")
	j.cmd.Stdout, j.cmd.Stderr = j.Logs, j.Logs
	j.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := j.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start Jaeger: %w", err)
	}
	go func() { j.cmd.Wait(); close(j.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + j.Query + "/api/services")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return j, nil
			}
		}
		select {
		case <-j.exited:
			return nil, fmt.Errorf("start Jaeger: exited at start: %v\n%s", j.cmd.ProcessState, j.Logs.String())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			j.Stop()
			return nil, errors.New("start Jaeger: query API not up after 60s:\n" + j.Logs.String())
		}
	}
}

// Stop ends Jaeger: SIGTERM, then SIGKILL after 20 seconds.
func (j *Jaeger) Stop() {
	j.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-j.exited:
	case <-time.After(20 * time.Second):
		j.cmd.Process.Kill()
		<-j.exited
	}
}

// FreeAddr returns a free port on loopback, as host:port.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
