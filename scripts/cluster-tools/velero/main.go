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
	// controller-runtime's own metrics listener (:8080 on all interfaces) has no velero flag; "0" turns it off.
	metricsserver.DefaultBindAddress = "0"
	defer klog.Flush()
	err := velero.NewCommand(filepath.Base(os.Args[0])).Execute()
	cmd.CheckError(err)
}
