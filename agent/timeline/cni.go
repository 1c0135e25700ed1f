package timeline

import (
	"fmt"
	"path/filepath"
	"strings"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// maxCNINote bounds the evidence line about a failed CNI DEL.
const maxCNINote = 640

// cniDelFailure says, in one line, that the network teardown of the pod's
// sandbox failed and why, from a cni_plugin_failed event; ok is false for
// a failure of another CNI command. The text before its first ": " names
// the plugin and the sandbox, so that a retry that fails again is one note.
func cniDelFailure(e *apiv1.Event) (line string, ok bool) {
	command, msg, _ := strings.Cut(e.GetReason(), ": ")
	if command != "DEL" {
		return "", false
	}
	plugin := e.GetProcess().GetComm()
	if argv := e.GetProcess().GetArgv(); len(argv) > 0 && argv[0] != "" {
		plugin = filepath.Base(argv[0])
	}
	status := fmt.Sprintf("exit %d", e.GetExitCode())
	if sig := e.GetExitSignal(); sig != 0 {
		status = fmt.Sprintf("signal %d", sig)
	}
	line = fmt.Sprintf("CNI DEL by plugin %s for sandbox %.12s failed (%s): %s", plugin, e.GetSandboxId(), status, msg)
	if len(line) > maxCNINote {
		line = line[:maxCNINote] + "…"
	}
	return line, true
}
