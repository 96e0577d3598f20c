package deploy

import (
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
)

// actionlint (as a library) finds no problem in the workflows: syntax, expressions, job
// dependencies, matrix values, inputs of the popular actions, runner labels, and the `run:`
// scripts through shellcheck where it is installed (Debian package shellcheck).
func TestWorkflowsPassActionlint(t *testing.T) {
	opts := &actionlint.LinterOptions{}
	if sc, err := exec.LookPath("shellcheck"); err == nil {
		opts.Shellcheck = sc
	} else {
		t.Log("shellcheck not on PATH: run: scripts are not checked")
	}
	l, err := actionlint.NewLinter(io.Discard, opts)
	if err != nil {
		t.Fatal(err)
	}
	path := repoPath(".github", "workflows", "ci.yml")
	errs, err := l.LintFile(path, nil)
	if err != nil {
		t.Fatalf("actionlint %s: %v", path, err)
	}
	for _, e := range errs {
		t.Errorf("%s:%d:%d: %s [%s]", path, e.Line, e.Column, e.Message, e.Kind)
	}
}

type workflow struct {
	Jobs map[string]struct {
		If       string   `yaml:"if"`
		Needs    []string `yaml:"needs"`
		Strategy struct {
			Matrix map[string][]string `yaml:"matrix"`
		} `yaml:"strategy"`
		Steps []struct {
			Uses string            `yaml:"uses"`
			Run  string            `yaml:"run"`
			With map[string]string `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

// The workflow holds the jobs the issue lists.
func TestWorkflowJobs(t *testing.T) {
	var wf workflow
	readYAML(t, repoPath(".github", "workflows", "ci.yml"), &wf)
	runs := func(job string) string {
		var b strings.Builder
		for _, s := range wf.Jobs[job].Steps {
			b.WriteString(s.Run)
			b.WriteString("\n")
		}
		return b.String()
	}
	for job, wants := range map[string][]string{
		"lint":        {"make lint", "make staticcheck"},
		"test":        {"make cover COVER_MIN=80", "prometheus docker-compose"},
		"govulncheck": {"make govulncheck"},
		"loadtest":    {"make loadtest"},
		"compose":     {"docker compose --env-file deploy/compose/dev.env --profile dev up", "/predict", "down -v"},
	} {
		if _, ok := wf.Jobs[job]; !ok {
			t.Errorf("job %s missing", job)
			continue
		}
		for _, w := range wants {
			if !strings.Contains(runs(job), w) {
				t.Errorf("job %s does not run %q", job, w)
			}
		}
	}
	var want []string
	for _, img := range images {
		want = append(want, img.name)
	}
	if got := wf.Jobs["images"].Strategy.Matrix["image"]; !slices.Equal(got, want) {
		t.Errorf("images matrix %v, want one per Dockerfile %v", got, want)
	}
	pushes := false
	for _, s := range wf.Jobs["images"].Steps {
		if strings.HasPrefix(s.Uses, "docker/build-push-action@") {
			pushes = s.With["push"] == "${{ startsWith(github.ref, 'refs/tags/v') }}" &&
				s.With["file"] == "deploy/docker/${{ matrix.image }}.Dockerfile"
		}
	}
	if !pushes {
		t.Error("images job does not build deploy/docker/<image>.Dockerfile and push on tags only")
	}
	if wf.Jobs["loadtest"].If != "startsWith(github.ref, 'refs/tags/v')" {
		t.Errorf("loadtest runs if %q, want on tags only", wf.Jobs["loadtest"].If)
	}
}
