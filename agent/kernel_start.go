package agent

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/graceline/graceline/agent/release"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/bpf/probe"
	"github.com/graceline/graceline/cri"
)

// cniRescanPeriod is how often the CNI bin directories are looked at again
// for plugins installed after the agent started.
const cniRescanPeriod = 30 * time.Second

// kernelCgroups is the release watcher as the kernel source feeds it: it
// registers the cgroups whose removal it waits for with the probe, and
// learns of their removal from the probe's events.
type kernelCgroups interface {
	cgroupRemovals
	UseKernel(release.KernelCgroups)
}

// startKernel loads the eBPF probes and starts attributing their events.
// It reports false without error when the source is disabled.
func startKernel(ctx context.Context, cfg Config, tracker *cri.Tracker, releases kernelCgroups, emit func(*apiv1.Event), m *metrics, cm *cri.Metrics, log *slog.Logger, wg *sync.WaitGroup) (bool, error) {
	up := cm.SourceUp.WithLabelValues("ebpf")
	up.Set(0)
	kc := cfg.Kernel
	if !kc.Enabled {
		return false, nil
	}
	hostNS, err := probe.MountNamespace(kc.HostPID)
	if err != nil {
		// Without rights on the host's PID 1 (it may hold capabilities the
		// agent lacks), fall back to the agent's own namespace: right when
		// the agent runs on the host, not when it runs in a container.
		self, serr := probe.MountNamespace(os.Getpid())
		if serr != nil {
			return false, fmt.Errorf("find host mount namespace: %w", err)
		}
		log.Warn("cannot read the host's mount namespace; using the agent's own", "pid", kc.HostPID, "err", err)
		hostNS = self
	}
	pc := kc.Probe
	pc.HostMntNS = hostNS
	probes, err := loadProbes(pc)
	if err != nil {
		return false, err
	}
	reg := newRegistry(kc.RemovedTTL, log)
	tracker.Subscribe(reg)
	k := &kernelSource{probe: probes, reg: reg, emit: emit, node: cfg.NodeName, hostNS: hostNS, window: kc.AttributionWindow, dropped: m.dropped, unattributed: m.unattributed, repaired: m.repaired.WithLabelValues(repairedKernel), log: log,
		cni: newCNIRuns(cfg.NodeName, reg.sandboxPod, m.dropped, m.cniUnparsable), cniDirs: kc.CNIBinDirs, cniRescan: cniRescanPeriod}
	followed, err := probes.cni.AddBinDirs(kc.CNIBinDirs)
	switch {
	case len(kc.CNIBinDirs) == 0:
	case len(followed) == 0:
		log.Warn("no CNI bin dir found yet; CNI plugin failures are not reported until one appears", "dirs", kc.CNIBinDirs, "err", err)
	default:
		log.Info("following CNI plugins", "dirs", followed, "err", err)
	}
	if err := probes.cni.OutputErr(); err != nil {
		log.Warn("CNI plugins' error messages cannot be read; their failures are reported with exit codes only", "err", err)
	}
	if err := probes.cgroupErr; err != nil {
		log.Warn("removed cgroups are not reported by the kernel; they are polled for", "err", err)
	} else {
		releases.UseKernel(probes.cgroup)
		k.cgroups = releases
	}
	up.Set(1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer probes.Close()
		k.run(ctx)
		up.Set(0)
	}()
	return true, nil
}
