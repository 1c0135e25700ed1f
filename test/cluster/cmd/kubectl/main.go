// Command kubectl is kubectl v0.37.2 (k8s.io/kubectl, the version of
// graceline's other Kubernetes modules), built for the cluster tests: they
// run `kubectl get podterminations --watch` and `kubectl graceline` (the
// plugin found on PATH) as a user does, without depending on a kubectl the
// machine may or may not have.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
)

func main() {
	os.Exit(cli.Run(cmd.NewDefaultKubectlCommand()))
}
