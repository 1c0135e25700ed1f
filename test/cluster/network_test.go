package cluster_test

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// TestPodNetworks runs a pod on the CNI bridge network and one on the
// host's network, deletes both, and checks the agent's events and that the
// bridge pod's network namespace was its own and is released.
func TestPodNetworks(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		hostNetwork bool
	}{
		{name: "a pod on the bridge network has its own netns, released on deletion", hostNetwork: false},
		{name: "a hostNetwork pod shares the host's netns", hostNetwork: true},
	}
	ns := newNamespace(t, "network")
	hostNetNS, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	_, subnet, err := net.ParseCIDR(testCluster.PodSubnet())
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pod := busyboxPod(ns, []string{"bridge", "host"}[i], exitsOnTerm, 5)
			pod.Spec.HostNetwork = tc.hostNetwork
			pod = createRunning(t, pod)

			started := find(agent.forPod(string(pod.UID)), apiv1.KindContainerStarted)
			pid := started.GetProcess().GetPid()
			if pid <= 0 {
				t.Fatalf("container_started has no pid: %v", started)
			}
			podNetNS, err := os.Readlink("/proc/" + strconv.Itoa(int(pid)) + "/ns/net")
			if err != nil {
				t.Fatalf("read the container's netns: %v", err)
			}
			// The node's own address is the bridge's, the first of the
			// subnet: a hostNetwork pod has it, a bridge pod another one.
			inSubnet := subnet.Contains(net.ParseIP(pod.Status.PodIP))
			node := testCluster.NodeAddress()
			t.Logf("pod IP %s, netns %s (host %s, node address %s)", pod.Status.PodIP, podNetNS, hostNetNS, node)
			if tc.hostNetwork {
				if podNetNS != hostNetNS || pod.Status.PodIP != node {
					t.Errorf("hostNetwork pod: netns %s IP %s, want the host's netns %s and the node's address %s", podNetNS, pod.Status.PodIP, hostNetNS, node)
				}
			} else {
				if podNetNS == hostNetNS || !inSubnet || pod.Status.PodIP == node {
					t.Errorf("bridge pod: netns %s IP %s, want its own netns and an IP of its own in %s", podNetNS, pod.Status.PodIP, subnet)
				}
				if !netnsPinned(podNetNS) {
					t.Errorf("bridge pod's netns %s is not pinned by its sandbox", podNetNS)
				}
			}

			sent := deleteAndWaitGone(t, pod)
			waitLifecycle(t, pod, sent)
			if !tc.hostNetwork {
				// The CNI DEL in StopPodSandbox releases the namespace.
				waitFor(t, 30*time.Second, "netns "+podNetNS+" released", func() bool { return !netnsPinned(podNetNS) })
			}
		})
	}
}

// netnsPinned reports whether a network namespace ("net:[inode]") is still
// bind-mounted somewhere, as containerd pins a sandbox's namespace.
func netnsPinned(netns string) bool {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		// Field 4 is the mount's root; for an nsfs mount it names the namespace.
		if f := strings.Fields(line); len(f) > 4 && f[3] == netns {
			return true
		}
	}
	return false
}
