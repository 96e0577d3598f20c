package deploy

import (
	"os/exec"
	"testing"
)

// The Make targets of the seed's table (in their Go form) and ours exist: make -n resolves each
// without running it.
func TestMakeTargets(t *testing.T) {
	mk, err := exec.LookPath("make")
	if err != nil {
		t.Skipf("make not on PATH: %v", err)
	}
	for _, target := range []string{
		"dev", "run", "start", "train", "train-full", "lint", "fmt", "test", "docker-build",
		"docker-run", "compose-up", "compose-down", "precommit", "clean", "eval", "bench",
		"loadtest", "build", "compose-config", "ops-check", "terraform-provider", "tflint", "k6",
	} {
		cmd := exec.Command(mk, "-n", target)
		cmd.Dir = repoPath()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("make -n %s: %v\n%s", target, err, out)
		}
	}
}
