package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// repoPath returns a path of the repository; the tests of this module run in deploy/.
func repoPath(parts ...string) string {
	return filepath.Join(append([]string{".."}, parts...)...)
}

// requireTool returns the path of a command-line tool. When it is missing the test is skipped,
// unless CI=true or SWIPEFLIX_REQUIRE_TOOLS=1, where CI installs it and a skip would hide a gap.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" || os.Getenv("SWIPEFLIX_REQUIRE_TOOLS") == "1" {
		t.Fatalf("%s is required here (CI=true or SWIPEFLIX_REQUIRE_TOOLS=1) but not on PATH: %v", name, err)
	}
	t.Skipf("%s not on PATH (apt-get install -y --no-install-recommends prometheus docker-compose)", name)
	return ""
}

// optionalTool returns the path of a tool this machine may not have (terraform, tflint, k6),
// skipping the test when it is absent, in CI too.
func optionalTool(t testing.TB, name string, candidates ...string) string {
	t.Helper()
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return c
		}
	}
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed: %v", name, err)
	}
	return path
}

// run runs a tool and fails the test with its output when it exits non-zero.
func run(t testing.TB, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// loadContract reads docs/metrics.md.
func loadContract(t testing.TB) Contract {
	t.Helper()
	f, err := os.Open(repoPath("docs", "metrics.md"))
	if err != nil {
		t.Fatalf("open metrics contract: %v", err)
	}
	defer f.Close()
	c, err := ParseContract(f)
	if err != nil {
		t.Fatalf("parse metrics contract: %v", err)
	}
	return c
}
