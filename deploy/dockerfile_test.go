package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"golang.org/x/mod/modfile"
)

// image is one Dockerfile under deploy/docker and the Go module it builds.
type image struct {
	name   string // Dockerfile deploy/docker/<name>.Dockerfile, binary /<name>
	module string // module folder, relative to the repository root
	ports  []string
}

var images = []image{
	{"api", "services/api", []string{"8000"}},
	{"ingest", "services/ingest", []string{"8001"}},
	{"trainer", "services/trainer", []string{"8002"}},
	{"drift", "services/drift", []string{"8003"}},
	{"swipeflix", "cmd/swipeflix", []string{"8000", "8001", "8002", "8003"}},
}

// parseDockerfile parses a Dockerfile with BuildKit's own parser and runs BuildKit's lint rules
// (those of `docker build --check`), failing the test on any warning.
func parseDockerfile(t *testing.T, path string) []instructions.Stage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	for _, w := range res.Warnings {
		t.Errorf("%s: parser warning: %s", path, w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, desc, url, msg string, loc []parser.Range) {
		line := 0
		if len(loc) > 0 {
			line = loc[0].Start.Line
		}
		t.Errorf("%s:%d: lint %s: %s", path, line, rule, msg)
	}})
	stages, _, err := instructions.Parse(res.AST, lint)
	if err != nil {
		t.Fatalf("instructions of %s: %v", path, err)
	}
	return stages
}

func TestDockerfiles(t *testing.T) {
	files, _ := filepath.Glob(repoPath("deploy", "docker", "*.Dockerfile"))
	if len(files) != len(images) {
		t.Errorf("deploy/docker has %d Dockerfiles, want one per service and one for the binary (%d): %v", len(files), len(images), files)
	}
	for _, img := range images {
		t.Run(img.name, func(t *testing.T) {
			path := repoPath("deploy", "docker", img.name+".Dockerfile")
			stages := parseDockerfile(t, path)
			if len(stages) < 2 {
				t.Fatalf("%d stages, want a build stage and a runtime stage", len(stages))
			}
			build, final := stages[0], stages[len(stages)-1]
			if build.Name != "build" || !strings.HasPrefix(build.BaseName, "golang:") {
				t.Errorf("first stage %q FROM %q, want stage build FROM golang:...", build.Name, build.BaseName)
			}
			if !strings.HasPrefix(final.BaseName, "gcr.io/distroless/static") || !strings.HasSuffix(final.BaseName, ":nonroot") {
				t.Errorf("runtime stage FROM %q, want gcr.io/distroless/static...:nonroot", final.BaseName)
			}
			checkBuildStage(t, img, build)
			checkRuntimeStage(t, img, final)
		})
	}
}

func checkBuildStage(t *testing.T, img image, build instructions.Stage) {
	t.Helper()
	var static bool
	var copied []string
	for _, c := range build.Commands {
		switch c := c.(type) {
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				if kv.Key == "CGO_ENABLED" && kv.Value == "0" {
					static = true
				}
			}
		case *instructions.CopyCommand:
			copied = append(copied, c.SourcePaths...)
		}
	}
	if !static {
		t.Error("build stage does not set CGO_ENABLED=0: the binary would not be static")
	}
	// The image builds the module with GOWORK=off, so every module it replaces must be copied.
	for _, dir := range moduleClosure(t, img.module) {
		if !slices.Contains(copied, dir+"/") {
			t.Errorf("build stage copies %v, but not %s/ (needed by %s's replace directives)", copied, dir, img.module)
		}
	}
	if !slices.Contains(copied, "deploy/cmd/probe/") {
		t.Error("build stage does not copy deploy/cmd/probe/, the health check binary")
	}
}

func checkRuntimeStage(t *testing.T, img image, final instructions.Stage) {
	t.Helper()
	var user string
	labels := map[string]string{}
	var entrypoint, health []string
	var exposed []string
	for _, c := range final.Commands {
		switch c := c.(type) {
		case *instructions.UserCommand:
			user = c.User
		case *instructions.LabelCommand:
			for _, kv := range c.Labels {
				labels[kv.Key] = strings.Trim(kv.Value, `"`)
			}
		case *instructions.EntrypointCommand:
			if c.PrependShell {
				t.Error("ENTRYPOINT in shell form: distroless has no shell")
			}
			entrypoint = c.CmdLine
		case *instructions.HealthCheckCommand:
			health = c.Health.Test
		case *instructions.ExposeCommand:
			exposed = append(exposed, c.Ports...)
		case *instructions.RunCommand:
			t.Error("RUN in the runtime stage: distroless has no shell")
		}
	}
	if user == "" || user == "root" || strings.HasPrefix(user, "0") {
		t.Errorf("USER %q, want a non-root user", user)
	}
	for _, k := range []string{"org.opencontainers.image.title", "org.opencontainers.image.version", "org.opencontainers.image.revision", "org.opencontainers.image.source"} {
		if labels[k] == "" {
			t.Errorf("label %s missing", k)
		}
	}
	if labels["org.opencontainers.image.version"] != "${VERSION}" {
		t.Errorf("version label %q, want it from the VERSION build argument", labels["org.opencontainers.image.version"])
	}
	if !slices.Equal(entrypoint, []string{"/" + img.name}) {
		t.Errorf("ENTRYPOINT %v, want [/%s]", entrypoint, img.name)
	}
	if len(health) < 3 || health[0] != "CMD" || health[1] != "/probe" {
		t.Errorf("HEALTHCHECK %v, want CMD /probe <url>", health)
	}
	for _, p := range img.ports {
		if !slices.Contains(exposed, p) {
			t.Errorf("EXPOSE %v lacks %s", exposed, p)
		}
	}
}

// moduleClosure returns the module folder and every folder its replace directives point at,
// transitively, relative to the repository root.
func moduleClosure(t *testing.T, module string) []string {
	t.Helper()
	seen := map[string]bool{}
	var walk func(dir string)
	walk = func(dir string) {
		if seen[dir] {
			return
		}
		seen[dir] = true
		path := repoPath(dir, "go.mod")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		mf, err := modfile.ParseLax(path, b, nil)
		if err != nil {
			t.Fatalf("parse %s: %v", path, err)
		}
		for _, r := range mf.Replace {
			if modfile.IsDirectoryPath(r.New.Path) {
				walk(filepath.ToSlash(filepath.Clean(filepath.Join(dir, r.New.Path))))
			}
		}
	}
	walk(module)
	return slices.Sorted(func(yield func(string) bool) {
		for d := range seen {
			if !yield(d) {
				return
			}
		}
	})
}
