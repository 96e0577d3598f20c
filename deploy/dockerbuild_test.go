package deploy

import (
	"debug/elf"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// The build stage of each Dockerfile, replayed without Docker: the files its COPY instructions
// name are copied into a scratch folder, its ENV is set and its RUN commands run there (with
// /src and /out moved into the scratch folder). The binaries must come out static. This proves
// that the copied modules are enough to build with GOWORK=off, which the image build needs.
func TestDockerBuildStage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every service binary")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("go not on PATH: %v", err)
	}
	for _, img := range images {
		t.Run(img.name, func(t *testing.T) {
			stages := parseDockerfile(t, repoPath("deploy", "docker", img.name+".Dockerfile"))
			scratch := t.TempDir()
			src, out := filepath.Join(scratch, "src"), filepath.Join(scratch, "out")
			env := append(os.Environ(), "VERSION=test")
			workdir := scratch
			moved := strings.NewReplacer("/src", src, "/out", out)
			for _, c := range stages[0].Commands {
				switch c := c.(type) {
				case *instructions.WorkdirCommand:
					workdir = moved.Replace(c.Path)
					if err := os.MkdirAll(workdir, 0o755); err != nil {
						t.Fatal(err)
					}
				case *instructions.EnvCommand:
					for _, kv := range c.Env {
						env = append(env, kv.Key+"="+kv.Value)
					}
				case *instructions.CopyCommand:
					for _, s := range c.SourcePaths {
						copyLikeDocker(t, s, filepath.Join(workdir, c.DestPath))
					}
				case *instructions.RunCommand:
					script := moved.Replace(strings.Join(c.CmdLine, " "))
					cmd := exec.Command("sh", "-c", script)
					cmd.Dir = workdir
					cmd.Env = env
					if b, err := cmd.CombinedOutput(); err != nil {
						t.Fatalf("RUN %s: %v\n%s", script, err, b)
					}
				}
			}
			for _, bin := range []string{img.name, "probe"} {
				assertStatic(t, filepath.Join(out, bin))
			}
		})
	}
}

// copyLikeDocker copies a COPY source (relative to the repository, globs allowed) into dest:
// a folder's contents go into dest, a file goes into dest when dest ends in /.
func copyLikeDocker(t *testing.T, source, dest string) {
	t.Helper()
	matches, err := filepath.Glob(repoPath(source))
	if err != nil || len(matches) == 0 {
		t.Fatalf("COPY %s: no such file in the repository (err %v)", source, err)
	}
	for _, m := range matches {
		st, err := os.Stat(m)
		if err != nil {
			t.Fatal(err)
		}
		if !st.IsDir() {
			copyFile(t, m, filepath.Join(dest, filepath.Base(m)))
			continue
		}
		err = filepath.WalkDir(m, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, err := filepath.Rel(m, path)
			if err != nil {
				return err
			}
			copyFile(t, path, filepath.Join(dest, rel))
			return nil
		})
		if err != nil {
			t.Fatalf("COPY %s: %v", source, err)
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	outf, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(outf, in); err != nil {
		t.Fatal(err)
	}
	if err := outf.Close(); err != nil {
		t.Fatal(err)
	}
}

// assertStatic fails unless path is an ELF executable without a dynamic loader.
func assertStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s is dynamically linked; distroless static has no libc", path)
		}
	}
}
