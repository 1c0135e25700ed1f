package diagnose

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// maxChildren bounds the children of an init that one read takes: a
// prediction needs to know of a worker, not of every process a fork loop
// left.
const maxChildren = 16

// InitReader reads a running container's init process and the init's
// direct children, each with its signal sets, for the prediction of how
// its stop will go. It reads only <root>/<pid>/stat and status and
// <root>/<pid>/task/<pid>/children, never a scan of the whole /proc, and
// closes each file: the read costs the same on a node of a thousand
// processes as on an empty one.
type InitReader struct {
	// Root is the node's /proc; empty means /proc.
	Root string
	Now  func() time.Time
}

// ReadInit reads the init pid and its direct children. A child gone
// between the two reads is left out; the init gone is an error.
func (r InitReader) ReadInit(pid int32) (*apiv1.Process, []*apiv1.Process, error) {
	root := r.Root
	if root == "" {
		root = procRoot
	}
	boot := time.Time{}
	if r.Now != nil {
		boot = bootTime(r.Now())
	}
	p, err := readStatAt(root, int(pid))
	if err != nil {
		return nil, nil, fmt.Errorf("read init process %d: %w", pid, err)
	}
	readStatusAt(root, &p)
	init := p.process(boot)
	// The children file lists the children of that one thread; the
	// init's main thread is what forks a shell's commands.
	b, err := os.ReadFile(fmt.Sprintf("%s/%d/task/%d/children", root, pid, pid))
	if err != nil {
		return init, nil, nil
	}
	var children []*apiv1.Process
	for _, f := range strings.Fields(string(b)) {
		if len(children) == maxChildren {
			break
		}
		cpid, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		c, err := readStatAt(root, cpid)
		if err != nil {
			continue // exited meanwhile
		}
		readStatusAt(root, &c)
		children = append(children, c.process(boot))
	}
	return init, children, nil
}
