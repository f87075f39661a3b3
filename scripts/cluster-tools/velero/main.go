// The velero server and CLI for changectl's local control plane, built from its module.
package main

import (
	"os"
	"path/filepath"

	"k8s.io/klog/v2"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/vmware-tanzu/velero/pkg/cmd"
	"github.com/vmware-tanzu/velero/pkg/cmd/velero"
)

func main() {
	defer klog.Flush()
	// Velero's controller manager would serve its metrics on :8080 of every interface, so a
	// second server on the machine (the dev stack beside the tests) could not start; its own
	// metrics stay on --metrics-address.
	metricsserver.DefaultBindAddress = "0"
	err := velero.NewCommand(filepath.Base(os.Args[0])).Execute()
	cmd.CheckError(err)
}
