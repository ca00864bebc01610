//go:build !unix

package upstream

import "os/exec"

// killGroupOnCancel leaves cmd's cancellation as it is (the go command is
// killed; its children end when their pipes close): there are no Unix
// process groups here.
func killGroupOnCancel(cmd *exec.Cmd) {}
