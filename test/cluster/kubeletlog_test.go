package cluster_test

import (
	"bufio"
	"os"
	"regexp"
	"strconv"
	"testing"
)

// kubeletGracePeriodRE matches the kubelet's log line (at -v 2) that names
// the grace period it passes to the runtime's StopContainer, after taking
// off the time a preStop hook used.
var kubeletGracePeriodRE = regexp.MustCompile(`"Killing container with a grace period".*containerID="containerd://([0-9a-f]+)".*gracePeriod=(\d+)`)

// kubeletGracePeriod returns the StopContainer timeout the kubelet used for
// the container, from its log.
func kubeletGracePeriod(t *testing.T, containerID string) int64 {
	t.Helper()
	f, err := os.Open(testCluster.LogPath("kubelet"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := kubeletGracePeriodRE.FindStringSubmatch(sc.Text()); m != nil && m[1] == containerID {
			n, _ := strconv.ParseInt(m[2], 10, 64)
			return n
		}
	}
	t.Fatalf("kubelet log has no grace period for container %s", containerID)
	return 0
}
