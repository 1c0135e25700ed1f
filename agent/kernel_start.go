package agent

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/bpf/termination"
	"github.com/graceline/graceline/cri"
)

// startKernel loads the eBPF probes and starts attributing their events.
// It reports false without error when the source is disabled.
func startKernel(ctx context.Context, cfg Config, tracker *cri.Tracker, emit func(*apiv1.Event), m *metrics, cm *cri.Metrics, log *slog.Logger, wg *sync.WaitGroup) (bool, error) {
	up := cm.SourceUp.WithLabelValues("ebpf")
	up.Set(0)
	kc := cfg.Kernel
	if !kc.Enabled {
		return false, nil
	}
	hostNS, err := termination.MountNamespace(kc.HostPID)
	if err != nil {
		// Without rights on the host's PID 1 (it may hold capabilities the
		// agent lacks), fall back to the agent's own namespace: right when
		// the agent runs on the host, not when it runs in a container.
		self, serr := termination.MountNamespace(os.Getpid())
		if serr != nil {
			return false, fmt.Errorf("find host mount namespace: %w", err)
		}
		log.Warn("cannot read the host's mount namespace; using the agent's own", "pid", kc.HostPID, "err", err)
		hostNS = self
	}
	pc := kc.Probe
	pc.HostMntNS = hostNS
	probe, err := termination.New(pc)
	if err != nil {
		return false, err
	}
	reg := newRegistry(kc.RemovedTTL, log)
	tracker.Subscribe(reg)
	k := &kernelSource{probe: probe, reg: reg, emit: emit, node: cfg.NodeName, hostNS: hostNS, window: kc.AttributionWindow, dropped: m.dropped, unattributed: m.unattributed, log: log}
	up.Set(1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer probe.Close()
		k.run(ctx)
		up.Set(0)
	}()
	return true, nil
}
