package cluster_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/graceline/graceline/test/cluster"
)

// installSlot admits one installed graceline at a time: both install paths
// use the same namespace and fixed object names, as the manifests do, and a
// node takes one agent (two would trace every signal twice).
var installSlot sync.Mutex

// installOne waits for the install slot and holds it until the test and
// its cleanups end; call it before anything that registers a cleanup.
func installOne(t *testing.T) {
	t.Helper()
	installSlot.Lock()
	t.Cleanup(installSlot.Unlock)
}

// The images are built and imported once for both install paths: a build
// takes a minute of the two cores.
var (
	imagesOnce sync.Once
	imagesErr  error
)

// importGracelineImages builds the images as `make images` does and imports
// them into the node's containerd under the manifests' names, once.
func importGracelineImages(t *testing.T, root string) {
	t.Helper()
	imagesOnce.Do(func() {
		ctx := context.Background()
		began := time.Now()
		dir, err := os.MkdirTemp("", "graceline-images-")
		if err != nil {
			imagesErr = err
			return
		}
		// The tarballs are of no use once imported.
		defer os.RemoveAll(dir)
		tarballs, err := cluster.BuildGracelineImages(ctx, root, dir)
		if err != nil {
			imagesErr = err
			return
		}
		imagesErr = testCluster.ImportImages(ctx, tarballs...)
		t.Logf("images built and imported in %s", time.Since(began).Round(time.Millisecond))
	})
	if imagesErr != nil {
		t.Fatal(imagesErr)
	}
}
