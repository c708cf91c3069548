package s3test_test

import (
	"os"
	"os/exec"
	"testing"
)

// execSelf runs one test of this binary in a child process with env added.
func execSelf(t *testing.T, name string, env ...string) *exec.Cmd {
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^"+name+"$", "-test.v")
	cmd.Env = append(os.Environ(), env...)
	return cmd
}
